from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HardwareConfig(AppConfig):
    name = "apps.hardware"
    verbose_name = _("Hardware")

    def ready(self) -> None:
        from apps.core.processes import process_serving
        from apps.hardware import rfid_scanner, services

        services.register(rfid_scanner.RfidScanner)

        # They stop at exit (start_services registers that).
        process_serving.connect(services.start_services, dispatch_uid="hardware-start")
