"""Writes of security events."""

from __future__ import annotations

import logging
from datetime import datetime

from apps.core.timeutil import utcnow
from apps.security.models import SecurityEvent

logger = logging.getLogger("apps.security")


def security_event_record(
    *,
    source: str,
    event_type: str,
    charger_id: str = "",
    station_id: int | None = None,
    tech_info: str = "",
    occurred_at: datetime | None = None,
) -> SecurityEvent:
    """Keep a security event and write it to the security log."""
    event = SecurityEvent.objects.create(
        station_id=station_id,
        charger_id=charger_id,
        source=source,
        event_type=event_type,
        tech_info=tech_info,
        occurred_at=occurred_at or utcnow(),
    )
    logger.warning(
        "security event %s from %s (%s): %s", event_type, charger_id or "-", source, tech_info
    )
    return event
