from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MaintenanceConfig(AppConfig):
    name = "apps.maintenance"
    verbose_name = _("Firmware and diagnostics")

    def ready(self) -> None:
        # Registers the GetDiagnostics and GetLog answer effects.
        from apps.maintenance import effects  # noqa: F401
