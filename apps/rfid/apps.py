from __future__ import annotations

from django.apps import AppConfig


class RfidConfig(AppConfig):
    name = "apps.rfid"
    verbose_name = "Id tags (RFID)"
