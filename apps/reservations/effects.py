"""Side effects of the station's answers to reservation commands (imported at startup)."""

from __future__ import annotations

from typing import Any

from apps.commands.effects import on
from apps.commands.models import ChargerCommand
from apps.reservations.services import reservation_cancel_answered, reservation_reserve_answered


@on("ReserveNow")
def _reserve_now(command: ChargerCommand, response: dict[str, Any]) -> None:
    reservation_reserve_answered(command=command, answer=response["status"])


@on("CancelReservation")
def _cancel_reservation(command: ChargerCommand, response: dict[str, Any]) -> None:
    reservation_cancel_answered(command=command, answer=response["status"])
