from __future__ import annotations

from django.apps import AppConfig
from django.db import transaction
from django.utils.translation import gettext_lazy as _


def _stop_after_commit(**_kwargs: object) -> None:
    # Sent inside process_end's transaction: the services record their stop in the database,
    # so they are stopped once it committed (SQLite would make them wait for its lock).
    from apps.hardware import services

    transaction.on_commit(services.stop_services)


class HardwareConfig(AppConfig):
    name = "apps.hardware"
    verbose_name = _("Hardware")

    def ready(self) -> None:
        from django.core import checks

        from apps.core.processes import process_ending, process_serving
        from apps.hardware import lcd, rfid_scanner, services, toast

        checks.register(lcd.check_lcd_settings)
        checks.register(toast.check_toast_settings)

        services.register(rfid_scanner.RfidScanner)
        services.register(lcd.LcdService)
        services.register(toast.ToastService)

        # They stop at exit (start_services registers that) and, since uvicorn ends on the
        # signal it caught (no exit hooks then), when the server process ends.
        process_serving.connect(services.start_services, dispatch_uid="hardware-start")
        process_ending.connect(_stop_after_commit, dispatch_uid="hardware-stop")
