"""A connection remembers its running 2.x sessions: Updated events do not read their row.

End to end over a real websocket (the `ocpp` library's 2.0.1 ChargePoint): what the row
holds must be exactly what reading it for every event would have given, also after an
event that fails and after a batch that cannot commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError
from ocpp.exceptions import OCPPError
from ocpp.v201 import call

from apps.core import batch
from apps.transactions import statements
from apps.transactions.models import MeterValue, Transaction, TransactionEvent
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@pytest.fixture
def row_reads(monkeypatch) -> list[str]:
    """The transaction ids of the events that read their session's row."""
    reads: list[str] = []
    real = statements.transaction_for_event

    def counting(**kwargs):
        reads.append(kwargs["transaction_id"])
        return real(**kwargs)

    monkeypatch.setattr(statements, "transaction_for_event", counting)
    return reads


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event(event_type: str, seq_no: int, state: str, wh: float | None = None, **fields):
    at = T0 + timedelta(minutes=seq_no)
    info = {"transaction_id": "MEM-1", "charging_state": state}
    if "stopped_reason" in fields:
        info["stopped_reason"] = fields.pop("stopped_reason")
    extra = {}
    if wh is not None:
        sampled = {
            "value": wh,
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "Wh", **fields.pop("unit", {})},
        }
        extra["meter_value"] = [{"timestamp": iso(at), "sampled_value": [sampled]}]
    return call.TransactionEvent(
        event_type=event_type,
        timestamp=iso(at),
        seq_no=seq_no,
        trigger_reason="MeterValuePeriodic" if event_type == "Updated" else "Authorized",
        transaction_info=info,
        **extra,
        **fields,
    )


async def start(cp) -> None:
    await cp.call(
        call.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )
    await cp.call(event("Started", 0, "EVConnected", evse={"id": 2, "connector_id": 1}))


def stored() -> tuple[Transaction, list[tuple], list[tuple]]:
    tx = Transaction.objects.get(transaction_id="MEM-1")
    events = list(
        TransactionEvent.objects.filter(transaction=tx)
        .order_by("seq_no")
        .values_list("seq_no", "charging_state")
    )
    readings = list(
        MeterValue.objects.filter(transaction=tx)
        .order_by("timestamp")
        .values_list("connector_id", "normalized_value")
    )
    return tx, events, readings


async def test_updated_events_apply_without_reading_their_session(asgi_server, row_reads):
    async with connect_charger(asgi_server.ws_url, "MEM-CP", "ocpp2.0.1") as cp:
        await start(cp)
        for seq_no, state in enumerate(["Charging", "Charging", "SuspendedEV", "Charging"], 1):
            await cp.call(event("Updated", seq_no, state, wh=1000 + seq_no), suppress=False)
        await cp.call(event("Ended", 5, "Idle", stopped_reason="EVDisconnected"))

    # The Started and the Ended read the row; the four Updated between them did not.
    assert row_reads == ["MEM-1", "MEM-1"]
    tx, events, readings = await sync_to_async(stored)()
    assert (tx.charging_state, tx.last_seq_no, tx.stop_reason) == ("Idle", 5, "EVDisconnected")
    assert tx.stopped_at == T0 + timedelta(minutes=5)
    assert [seq for seq, _ in events] == [0, 1, 2, 3, 4, 5]
    assert events[3] == (3, "SuspendedEV")
    # Each reading is on the session's connector (EVSE 2), found once and remembered.
    assert readings == [(2, 1001.0), (2, 1002.0), (2, 1003.0), (2, 1004.0)]


async def test_a_replayed_event_reads_its_row_and_is_applied_once(asgi_server, row_reads):
    async with connect_charger(asgi_server.ws_url, "MEM-CP", "ocpp2.0.1") as cp:
        await start(cp)
        await cp.call(event("Updated", 1, "Charging", wh=1001))
        await cp.call(event("Updated", 2, "SuspendedEV", wh=1002))
        await cp.call(event("Updated", 1, "Charging", wh=1001))  # a replay: seq 1 again

    assert row_reads == ["MEM-1", "MEM-1"]  # the Started and the replay
    tx, events, readings = await sync_to_async(stored)()
    assert (tx.charging_state, tx.last_seq_no) == ("SuspendedEV", 2)
    assert [seq for seq, _ in events] == [0, 1, 2]
    assert len(readings) == 2


async def test_an_event_that_fails_leaves_nothing_and_its_session_is_read_again(
    asgi_server, row_reads
):
    async with connect_charger(asgi_server.ws_url, "MEM-CP", "ocpp2.0.1") as cp:
        await start(cp)
        await cp.call(event("Updated", 1, "Charging", wh=1001))
        # A multiplier no column holds: the reading is refused after the event was queued
        # and the session changed in memory.
        with pytest.raises(OCPPError):
            await cp.call(
                event("Updated", 2, "SuspendedEV", wh=1002, unit={"multiplier": -40000}),
                suppress=False,
            )
        tx, events, _ = await sync_to_async(stored)()
        assert (tx.charging_state, tx.last_seq_no) == ("Charging", 1)
        assert [seq for seq, _ in events] == [0, 1]
        await cp.call(event("Updated", 2, "SuspendedEV", wh=1002), suppress=False)

    assert row_reads == ["MEM-1", "MEM-1"]  # the Started and the event after the failure
    tx, events, readings = await sync_to_async(stored)()
    assert (tx.charging_state, tx.last_seq_no) == ("SuspendedEV", 2)
    assert events == [(0, "EVConnected"), (1, "Charging"), (2, "SuspendedEV")]
    assert readings == [(2, 1001.0), (2, 1002.0)]


async def test_a_batch_that_cannot_commit_makes_the_connection_forget(
    asgi_server, row_reads, monkeypatch
):
    real_flush = batch._flush_rows
    failed = []

    def flush_failing_once(pending):
        queued = [
            row for (model, _), rows in pending.items() if model is TransactionEvent for row in rows
        ]
        if not failed and any(row["seq_no"] == 2 for row in queued):
            failed.append(True)
            raise DatabaseError("the database went away")
        return real_flush(pending)

    monkeypatch.setattr(batch, "_flush_rows", flush_failing_once)
    async with connect_charger(asgi_server.ws_url, "MEM-CP", "ocpp2.0.1") as cp:
        await start(cp)
        await cp.call(event("Updated", 1, "Charging", wh=1001))
        with pytest.raises(OCPPError):
            await cp.call(event("Updated", 2, "SuspendedEV", wh=1002), suppress=False)
        # The station goes on with its next event: what the failed one changed in memory
        # (the charging state) was not stored, so this one must store it.
        await cp.call(event("Updated", 3, "SuspendedEV", wh=1003), suppress=False)

    assert failed
    assert row_reads == ["MEM-1", "MEM-1"]  # the Started and the event after the failure
    tx, events, readings = await sync_to_async(stored)()
    assert (tx.charging_state, tx.last_seq_no) == ("SuspendedEV", 3)
    assert events == [(0, "EVConnected"), (1, "Charging"), (3, "SuspendedEV")]
    assert readings == [(2, 1001.0), (2, 1003.0)]
