from __future__ import annotations

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "apps.maintenance"
    verbose_name = "Firmware and diagnostics"

    def ready(self) -> None:
        # Registers the GetDiagnostics and GetLog answer effects.
        from apps.maintenance import effects  # noqa: F401
