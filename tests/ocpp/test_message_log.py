from __future__ import annotations

from datetime import timedelta

import pytest

from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog
from apps.ocpp.services import message_log_purge
from apps.ocpp.tasks import purge_message_log

pytestmark = pytest.mark.django_db


def _frame(age_days: float) -> MessageLog:
    return MessageLog.objects.create(
        charger_id="CP",
        direction="in",
        message_type=2,
        action="Heartbeat",
        frame="[]",
        created_at=utcnow() - timedelta(days=age_days),
    )


def test_it_purges_frames_older_than_the_retention(settings):
    settings.OCPP_MESSAGE_LOG_RETENTION_DAYS = 7
    old, fresh = _frame(8), _frame(6)
    assert message_log_purge() == 1
    assert list(MessageLog.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not MessageLog.objects.filter(pk=old.pk).exists()


def test_the_scheduled_task_purges(settings):
    settings.OCPP_MESSAGE_LOG_RETENTION_DAYS = 1
    _frame(2)
    assert purge_message_log() == 1
    assert MessageLog.objects.count() == 0


def test_the_purge_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-ocpp-message-log"]
    assert entry["task"] == purge_message_log.name
