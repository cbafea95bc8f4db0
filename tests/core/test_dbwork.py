"""Group commit: one transaction per batch, a failing job undone alone, rows inserted once."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from apps.core.dbwork import GroupCommitExecutor, insert_rows
from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog

pytestmark = pytest.mark.django_db(transaction=True)


def entry(frame: str) -> MessageLog:
    return MessageLog(charger_id="DBW", direction="in", frame=frame, created_at=utcnow())


def run_batch(executor: GroupCommitExecutor, *jobs) -> list[Future]:
    batch = [(Future(), fn, (), {}) for fn in jobs]
    for future, *_ in batch:
        future.set_running_or_notify_cancel()
    executor._run_batch(batch)
    return [future for future, *_ in batch]


@pytest.fixture
def executor():
    pool = GroupCommitExecutor(threads=1)
    yield pool
    pool.shutdown()


def test_a_failing_job_is_undone_alone_with_its_rows(executor):
    def good() -> str:
        insert_rows(MessageLog, [entry("kept")])
        return "ok"

    def bad() -> None:
        insert_rows(MessageLog, [entry("dropped")])
        raise ValueError("this job fails")

    first, second = run_batch(executor, good, bad)
    assert first.result() == "ok"
    with pytest.raises(ValueError, match="this job fails"):
        second.result()
    assert list(MessageLog.objects.values_list("frame", flat=True)) == ["kept"]


def test_a_nul_character_does_not_sink_the_batch(executor):
    def garbage() -> None:
        insert_rows(MessageLog, [entry('\x00[2, "x"]')])

    def other() -> str:
        insert_rows(MessageLog, [entry("another charger")])
        return "ok"

    futures = run_batch(executor, garbage, other)
    assert [future.result() for future in futures] == [None, "ok"]
    frames = sorted(MessageLog.objects.values_list("frame", flat=True))
    assert frames == ["another charger", '\ufffd[2, "x"]']
