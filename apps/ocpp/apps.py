from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OcppConfig(AppConfig):
    name = "apps.ocpp"
    verbose_name = _("OCPP")
