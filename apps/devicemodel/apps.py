from __future__ import annotations

from django.apps import AppConfig


class DeviceModelConfig(AppConfig):
    name = "apps.devicemodel"
    verbose_name = "Device model (OCPP 2.x)"
