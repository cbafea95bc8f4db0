"""Writes of the OCPP app: the per-charger message log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from apps.core.batch import insert_rows
from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog


def message_log_write(*, entries: list[MessageLog | dict[str, Any]]) -> None:
    """Store frames; inside a group-commit batch, all the batch's frames in one statement.

    An entry is a MessageLog or a dict of its fields (see batch.insert_rows).
    """
    insert_rows(MessageLog, entries)


def message_log_purge(*, retention_days: int | None = None) -> int:
    """Delete frames older than the retention period; return how many went."""
    days = settings.OCPP_MESSAGE_LOG_RETENTION_DAYS if retention_days is None else retention_days
    deleted, _ = MessageLog.objects.filter(created_at__lt=utcnow() - timedelta(days=days)).delete()
    return deleted
