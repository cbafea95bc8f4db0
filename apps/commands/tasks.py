from __future__ import annotations

from celery import shared_task

from apps.commands.services import commands_expire_stale


@shared_task
def expire_stale_commands() -> int:
    """Time out commands whose serving connection went away without an outcome."""
    return commands_expire_stale()
