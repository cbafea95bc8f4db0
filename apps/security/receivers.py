"""Security records of what other apps signal (connected in SecurityConfig.ready())."""

from __future__ import annotations

from typing import Any

from apps.chargers.models import ChargingStation
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record


def command_limit_reached_record(
    sender: Any, *, station: ChargingStation, action: str, outstanding: int, **kwargs: Any
) -> None:
    """Record a refused command (too many outstanding) as a CommandLimitReached event."""
    security_event_record(
        source=SecurityEvent.Source.CSMS,
        event_type="CommandLimitReached",
        charger_id=station.charger_id,
        station_id=station.pk,
        tech_info=f"{outstanding} commands outstanding; {action} refused",
    )
