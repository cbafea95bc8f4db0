"""Group commit (apps.core.batch): one transaction per batch, a failing job undone alone,
rows inserted once."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from apps.core.batch import JobUndone, insert_rows, undone_on_error
from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog
from apps.protocol.engine import Engine, HandlerContext, HandlerRegistry
from apps.protocol.versions import V16
from tests.core.batching import run_batch

pytestmark = pytest.mark.django_db(transaction=True)


def entry(frame: str) -> MessageLog:
    return MessageLog(charger_id="DBW", direction="in", frame=frame, created_at=utcnow())


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


def test_a_coroutine_awaits_its_job_and_async_to_sync_reaches_its_loop(executor):
    """`run` settles on the caller's loop; a job's async_to_sync runs there too."""

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def job(value: str) -> tuple[str, asyncio.AbstractEventLoop]:
        insert_rows(MessageLog, [entry(value)])
        return value, async_to_sync(where)()

    def failing() -> None:
        raise ValueError("job failed")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(executor.run(job, f"frame {n}") for n in range(20)))
        assert [value for value, _ in results] == [f"frame {n}" for n in range(20)]
        assert all(job_loop is loop for _, job_loop in results)
        with pytest.raises(ValueError, match="job failed"):
            await executor.run(failing)

    asyncio.run(main())
    assert MessageLog.objects.count() == 20


def test_rows_given_as_dicts_are_stored_as_instances_would_be(executor):
    """A dict row takes the fields' defaults and auto_now_add stamps, in and out of a batch."""
    from apps.chargers.models import ChargingStation
    from apps.transactions.models import Transaction, TransactionEvent

    station = ChargingStation.objects.create(charger_id="DBW-DICT")
    tx = Transaction.objects.create(station=station, transaction_id="t-1", started_at=utcnow())
    row = {
        "transaction_id": tx.pk,
        "seq_no": 1,
        "event_type": "Updated",
        "trigger_reason": "MeterValuePeriodic",
        "timestamp": utcnow(),
        "payload": {"seqNo": 1},
    }
    before = utcnow()
    (future,) = run_batch(executor, lambda: insert_rows(TransactionEvent, [row]))
    future.result()
    insert_rows(TransactionEvent, [{**row, "seq_no": 2, "offline": True}])  # outside a batch
    first, second = TransactionEvent.objects.order_by("seq_no")
    assert (first.offline, first.charging_state, first.payload) == (False, "", {"seqNo": 1})
    assert first.received_at >= before
    assert (second.seq_no, second.offline) == (2, True)


def test_a_job_that_swallows_a_database_error_is_undone_alone(executor):
    """A failed statement the job caught (PostgreSQL: transaction in error) undoes that job.

    The jobs before and after it keep their rows, and each job gets its own outcome. Where
    its writes were undone, the job fails (its result would acknowledge what is not stored,
    issue #14) and the rows it queued are dropped with them.
    """
    from django.db import DatabaseError

    def good(frame: str):
        def job() -> str:
            insert_rows(MessageLog, [entry(frame)])
            MessageLog.objects.create(
                charger_id="DBW", direction="in", frame=f"{frame} now", created_at=utcnow()
            )
            return frame

        return job

    def swallowing() -> str:
        MessageLog.objects.create(
            charger_id="DBW", direction="in", frame="undone", created_at=utcnow()
        )
        insert_rows(MessageLog, [entry("undone queued")])
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
        except DatabaseError:
            pass
        return "carried on"

    first, swallowed, second = run_batch(executor, good("first"), swallowing, good("second"))
    assert (first.result(), second.result()) == ("first", "second")
    stored = set(MessageLog.objects.values_list("frame", flat=True))
    assert {"first", "first now", "second", "second now"} <= stored
    if connection.vendor == "postgresql":
        with pytest.raises(JobUndone):
            swallowed.result()
        assert not {"undone", "undone queued"} & stored
    else:  # SQLite's transaction survives a failed statement: nothing was undone
        assert swallowed.result() == "carried on"
        assert {"undone", "undone queued"} <= stored


def test_savepoints_are_made_only_by_jobs_that_run_statements(executor):
    """A job that runs no statement and fails cannot undo the job before it; one that runs
    statements and fails undoes only its own."""

    def writes(frame: str, fail: bool = False):
        def job() -> str:
            MessageLog.objects.create(
                charger_id="DBW", direction="in", frame=frame, created_at=utcnow()
            )
            if fail:
                raise ValueError(frame)
            return frame

        return job

    def fails_without_statements() -> None:
        insert_rows(MessageLog, [entry("queued, dropped")])
        raise ValueError("no statement ran")

    futures = run_batch(
        executor,
        writes("kept 1"),
        fails_without_statements,
        writes("undone", fail=True),
        writes("kept 2"),
        fails_without_statements,
    )
    assert [future.exception() is None for future in futures] == [True, False, False, True, False]
    stored = sorted(MessageLog.objects.values_list("frame", flat=True))
    assert stored == ["kept 1", "kept 2"]


def test_a_lookup_value_is_found_by_the_insert_in_and_out_of_a_batch(executor):
    """Lookup: the database finds the value as the row goes in; none found: NULL."""
    from apps.chargers.models import ChargingStation
    from apps.core.sqlkit import Lookup
    from apps.transactions.models import MeterValue, Transaction

    station = ChargingStation.objects.create(charger_id="DBW-LOOKUP")
    tx = Transaction.objects.create(station=station, transaction_id="77", started_at=utcnow())
    find = "SELECT id FROM transactions_transaction WHERE station_id = %s AND transaction_id = %s"

    def reading(value: str, transaction_id: str) -> dict:
        return {
            "station_id": station.pk,
            "connector_id": 1,
            "transaction_id": Lookup(find, (station.pk, transaction_id)),
            "timestamp": utcnow(),
            "value": value,
        }

    def job() -> None:
        insert_rows(MeterValue, [reading("in batch", "77"), reading("unknown tx", "78")])
        insert_rows(MeterValue, [{**reading("plain", "77"), "transaction_id": None}])

    (future,) = run_batch(executor, job)
    future.result()
    insert_rows(MeterValue, [reading("outside", "77")])
    stored = dict(MeterValue.objects.values_list("value", "transaction_id"))
    assert stored == {"in batch": tx.pk, "unknown tx": None, "plain": None, "outside": tx.pk}


def test_an_update_given_to_the_batch_is_written_at_its_commit_unless_its_job_fails(executor):
    from apps.chargers.models import ChargingStation
    from apps.core.batch import update_at_commit
    from apps.transactions.models import Transaction

    station = ChargingStation.objects.create(charger_id="DBW-UPD")
    first, second = (
        Transaction.objects.create(station=station, transaction_id=name, started_at=utcnow())
        for name in ("u-1", "u-2")
    )

    def update(tx: Transaction, state: str, fail: bool = False):
        def job() -> None:
            tx.charging_state = state
            update_at_commit(tx, ["charging_state", "updated_at"])
            # Not written yet: it goes with the batch's inserts.
            assert Transaction.objects.get(pk=tx.pk).charging_state == ""
            if fail:
                raise ValueError("undone")

        return job

    futures = run_batch(executor, update(first, "Charging"), update(second, "Idle", fail=True))
    assert futures[0].exception() is None and futures[1].exception() is not None
    assert Transaction.objects.get(pk=first.pk).charging_state == "Charging"
    assert Transaction.objects.get(pk=second.pk).charging_state == ""
    second.charging_state = "SuspendedEV"
    update_at_commit(second, ["charging_state"])  # outside a batch: at once
    assert Transaction.objects.get(pk=second.pk).charging_state == "SuspendedEV"


@pytest.mark.parametrize("wrote_before", [False, True], ids=["first-in-job", "after-a-write"])
def test_a_failure_answered_inside_a_job_leaves_nothing_of_its_part(executor, wrote_before):
    """An OCPP handler's failure is answered (a CALLERROR), not raised: the job goes on to
    log the frame, and nothing the handler wrote or queued may be committed with the log."""

    def job() -> str:
        if wrote_before:
            MessageLog.objects.create(
                charger_id="DBW", direction="in", frame="before", created_at=utcnow()
            )
        try:
            with undone_on_error():
                MessageLog.objects.create(
                    charger_id="DBW", direction="in", frame="written", created_at=utcnow()
                )
                insert_rows(MessageLog, [entry("queued")])
                raise ValueError("the handler fails")
        except ValueError:
            pass
        insert_rows(MessageLog, [entry("logged")])
        MessageLog.objects.create(
            charger_id="DBW", direction="in", frame="logged now", created_at=utcnow()
        )
        return "answered"

    def neighbour() -> str:
        MessageLog.objects.create(
            charger_id="DBW", direction="in", frame="neighbour", created_at=utcnow()
        )
        return "ok"

    futures = run_batch(executor, neighbour, job, neighbour)
    assert [future.result() for future in futures] == ["ok", "answered", "ok"]
    expected = ["logged", "logged now", "neighbour", "neighbour"]
    if wrote_before:
        expected.append("before")
    assert sorted(MessageLog.objects.values_list("frame", flat=True)) == sorted(expected)


@pytest.mark.parametrize("failure", ["raises", "bad-response"])
def test_a_message_answered_with_a_callerror_leaves_nothing_of_its_handling(executor, failure):
    """The engine answers a handler's failure, or a response its schema refuses, with a
    CALLERROR: what the handler wrote or queued in the batch must not be committed."""
    registry = HandlerRegistry()

    @registry.handles("Heartbeat")
    def heartbeat(context: HandlerContext, payload: dict) -> dict:
        MessageLog.objects.create(
            charger_id="DBW", direction="in", frame="written", created_at=utcnow()
        )
        insert_rows(MessageLog, [entry("queued")])
        if failure == "raises":
            raise RuntimeError("a bug")
        return {"currentTime": "not a time"}

    engine = Engine(V16, registry, undone_on_error)
    context = HandlerContext(charger_id="DBW", station_id=1, version=V16, accepted=True)

    def job() -> list[str]:
        outcome = engine.receive('[2, "m-1", "Heartbeat", {}]', context)
        insert_rows(MessageLog, [entry("logged")])
        return outcome.replies

    (future,) = run_batch(executor, job)
    (reply,) = future.result()
    assert orjson.loads(reply)[:3] == [4, "m-1", "InternalError"]
    assert list(MessageLog.objects.values_list("frame", flat=True)) == ["logged"]


def test_queued_rows_keep_every_character(executor):
    """On PostgreSQL queued rows go in with COPY, whose text format escapes tabs, newlines,
    backslashes and its NULL marker: a frame must come back exactly as it was sent."""
    awkward = ["a\tb", "line\nbreak\r\n", "back\\slash", "\\N", "", "ünï €", '{"k": "\\u0000"}']

    def job() -> None:
        insert_rows(MessageLog, [entry(text) for text in awkward])

    (future,) = run_batch(executor, job)
    future.result()
    assert sorted(MessageLog.objects.values_list("frame", flat=True)) == sorted(awkward)
