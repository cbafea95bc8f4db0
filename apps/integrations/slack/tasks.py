from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.integrations.slack.notifications import notify as notification_notify
from apps.integrations.slack.slash import outcome_tell


@shared_task(name="apps.integrations.slack.tasks.notify")
def notify(described: dict[str, Any]) -> bool:
    """Write and post one Slack notification (queued by the server's live-event listener)."""
    return notification_notify(described)


@shared_task(name="apps.integrations.slack.tasks.outcome")
def outcome(command_id: int, response_url: str) -> None:
    """Tell a slash command's user the charger's answer to the command it sent."""
    outcome_tell(command_id, response_url)
