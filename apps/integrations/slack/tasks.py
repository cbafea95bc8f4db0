from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.integrations.slack.notifications import notify as notification_notify


@shared_task(name="apps.integrations.slack.tasks.notify")
def notify(described: dict[str, Any]) -> bool:
    """Write and post one Slack notification (queued by the server's live-event listener)."""
    return notification_notify(described)
