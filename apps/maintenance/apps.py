from __future__ import annotations

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "apps.maintenance"
    verbose_name = "Firmware and diagnostics"
