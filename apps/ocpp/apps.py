from __future__ import annotations

from django.apps import AppConfig


class OcppConfig(AppConfig):
    name = "apps.ocpp"
    verbose_name = "OCPP"
