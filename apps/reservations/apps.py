from __future__ import annotations

from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "apps.reservations"
    verbose_name = "Reservations"

    def ready(self) -> None:
        # Registers the ReserveNow / CancelReservation answer effects.
        from apps.reservations import effects  # noqa: F401
