from __future__ import annotations

from django.apps import AppConfig


class ChargersConfig(AppConfig):
    name = "apps.chargers"
    verbose_name = "Charging stations"
