"""Reads of the OCPP app."""

from __future__ import annotations

from apps.ocpp.models import MessageLog


def message_log_recent(*, charger_id: str, limit: int = 50) -> list[MessageLog]:
    """Return the charger's newest frames, newest first."""
    return list(
        MessageLog.objects.filter(charger_id=charger_id).order_by("-created_at", "-id")[:limit]
    )
