from __future__ import annotations

from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "apps.reservations"
    verbose_name = "Reservations"
