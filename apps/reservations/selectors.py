"""Reads about reservations."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.chargers.models import Connector
from apps.core.timeutil import utcnow
from apps.reservations.models import ACTIVE_STATUSES, Reservation


def reservations_active(*, station_id: int, now: datetime | None = None) -> QuerySet[Reservation]:
    """Return the station's reservations that hold a connector now (pending or accepted)."""
    return Reservation.objects.filter(
        station_id=station_id, status__in=ACTIVE_STATUSES, expires_at__gt=now or utcnow()
    )


def connector_free_for_reservation(
    *, station_id: int, now: datetime | None = None
) -> Connector | None:
    """Return the lowest connector (id > 0) reported Available and held by no reservation."""
    held = reservations_active(station_id=station_id, now=now).values("connector")
    return (
        Connector.objects.filter(station_id=station_id, connector_id__gt=0, status="Available")
        .exclude(pk__in=held)
        .order_by("connector_id")
        .first()
    )
