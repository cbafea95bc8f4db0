from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeviceModelConfig(AppConfig):
    name = "apps.devicemodel"
    verbose_name = _("Device model (OCPP 2.x)")
