from __future__ import annotations

from celery import shared_task

from apps.ocpp.services import message_log_purge


@shared_task
def purge_message_log() -> int:
    """Drop OCPP frames older than OCPP_MESSAGE_LOG_RETENTION_DAYS."""
    return message_log_purge()
