from __future__ import annotations

from celery import shared_task

from apps.lifecycle.services import upgrade_check_and_launch


@shared_task
def upgrade_check() -> str:
    """Check the update channel; when an upgrade is available, run it delegated."""
    return upgrade_check_and_launch(started_by="beat")
