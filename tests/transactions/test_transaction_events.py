"""2.x TransactionEvents over a real websocket: what is a replay and what is a new event.

A station (the `ocpp` library's 2.0.1 ChargePoint) that sends seqNo 0 on every event, as a
popular virtual charge point does, must have each event applied: its readings, its Ended.
Only a frame equal in sequence number, type, trigger and time is a replay, stored once, also
when it comes again on a new connection (the station resending after a reconnect).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from ocpp.v201 import call

from apps.rfid.models import IdTag
from apps.security.models import SecurityEvent
from apps.transactions.models import MeterValue, Transaction, TransactionEvent
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHARGER = "SEQ-CP"
TOKEN = {"id_token": "DRIVER-SEQ", "type": "ISO14443"}
SEQ_NO_REUSED = "TransactionSeqNoReused"  # the security event type, as documented


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@pytest.fixture
def driver(db) -> IdTag:
    return IdTag.objects.create(id_tag="DRIVER-SEQ")


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event(
    event_type: str,
    minute: int,
    *,
    seq_no: int = 0,
    transaction_id: str = "SEQ-TX-1",
    wh: int | None = None,
    **fields,
) -> call.TransactionEvent:
    """A TransactionEvent `minute` minutes after T0; seqNo 0 unless said (the bug)."""
    at = T0 + timedelta(minutes=minute)
    trigger = {"Started": "Authorized", "Updated": "MeterValuePeriodic", "Ended": "EVDeparted"}
    info = {"transaction_id": transaction_id}
    if event_type == "Ended":
        info["stopped_reason"] = "EVDisconnected"
    if wh is not None:
        context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}
        sampled = {
            "value": wh,
            "context": context.get(event_type, "Sample.Periodic"),
            "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "Wh"},
        }
        fields["meter_value"] = [{"timestamp": iso(at), "sampled_value": [sampled]}]
    return call.TransactionEvent(
        event_type=event_type,
        timestamp=iso(at),
        seq_no=seq_no,
        trigger_reason=trigger[event_type],
        transaction_info=info,
        **fields,
    )


async def boot(cp) -> None:
    await cp.call(
        call.BootNotification(
            charging_station={"model": "Virtual", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )


def stored(transaction_id: str = "SEQ-TX-1") -> tuple[Transaction, list[tuple], list[float]]:
    tx = Transaction.objects.get(transaction_id=transaction_id)
    events = list(
        TransactionEvent.objects.filter(transaction=tx)
        .order_by("id")
        .values_list("seq_no", "event_type", "timestamp")
    )
    readings = list(
        MeterValue.objects.filter(transaction=tx)
        .order_by("timestamp")
        .values_list("normalized_value", flat=True)
    )
    return tx, events, readings


def reports() -> list[tuple[str, str, str]]:
    return list(
        SecurityEvent.objects.filter(event_type=SEQ_NO_REUSED).values_list(
            "charger_id", "source", "tech_info"
        )
    )


async def test_a_station_that_repeats_seq_no_has_every_event_applied(asgi_server, driver):
    async with connect_charger(asgi_server.ws_url, CHARGER, "ocpp2.0.1") as cp:
        await boot(cp)
        started = await cp.call(
            event("Started", 0, wh=1000, id_token=TOKEN, evse={"id": 1, "connector_id": 1}),
            suppress=False,
        )
        for minute, wh in ((1, 1500), (2, 2000)):
            answer = await cp.call(event("Updated", minute, wh=wh), suppress=False)
            assert answer.id_token_info is None
        await cp.call(event("Ended", 3, wh=2600), suppress=False)
        # The next session of the same driver is not refused as a concurrent one.
        again = await cp.call(
            event("Started", 10, transaction_id="SEQ-TX-2", id_token=TOKEN), suppress=False
        )

    assert started.id_token_info["status"] == "Accepted"
    assert again.id_token_info["status"] == "Accepted"
    tx, events, readings = await sync_to_async(stored)()
    assert [(seq, kind) for seq, kind, _ in events] == [
        (0, "Started"),
        (0, "Updated"),
        (0, "Updated"),
        (0, "Ended"),
    ]
    assert readings == [1000.0, 1500.0, 2000.0, 2600.0]
    assert tx.stopped_at == T0 + timedelta(minutes=3)
    assert (tx.stop_reason, tx.meter_start_wh, tx.meter_stop_wh) == ("EVDisconnected", 1000, 2600)
    # Reported once for the session on this connection, not once per event.
    [(charger_id, source, tech_info)] = await sync_to_async(reports)()
    assert (charger_id, source) == (CHARGER, "csms")
    assert "transaction SEQ-TX-1: seqNo 0 used again" in tech_info


async def test_a_replay_with_a_repeated_seq_no_is_stored_once(asgi_server, driver):
    updated = event("Updated", 1, wh=1500)
    ended = event("Ended", 2, wh=2000)
    async with connect_charger(asgi_server.ws_url, CHARGER, "ocpp2.0.1") as cp:
        await boot(cp)
        await cp.call(event("Started", 0, wh=1000, id_token=TOKEN), suppress=False)
        await cp.call(updated, suppress=False)
        await cp.call(updated, suppress=False)  # the same frame again: a replay
    # The station resends what it had not seen answered, on a new connection.
    async with connect_charger(asgi_server.ws_url, CHARGER, "ocpp2.0.1") as cp:
        await cp.call(updated, suppress=False)
        await cp.call(ended, suppress=False)
        await cp.call(ended, suppress=False)

    tx, events, readings = await sync_to_async(stored)()
    assert [kind for _, kind, _ in events] == ["Started", "Updated", "Ended"]
    assert readings == [1000.0, 1500.0, 2000.0]
    assert tx.stopped_at == T0 + timedelta(minutes=2)
    # The Updated and the Ended each came first on a connection with seqNo 0 taken.
    assert len(await sync_to_async(reports)()) == 2


async def test_a_station_counting_seq_no_raises_no_report(asgi_server, driver):
    async with connect_charger(asgi_server.ws_url, CHARGER, "ocpp2.0.1") as cp:
        await boot(cp)
        await cp.call(event("Started", 0, seq_no=0, id_token=TOKEN), suppress=False)
        await cp.call(event("Updated", 1, seq_no=1, wh=1500), suppress=False)
        await cp.call(event("Updated", 1, seq_no=1, wh=1500), suppress=False)  # a replay
        await cp.call(event("Ended", 2, seq_no=2, wh=2000), suppress=False)

    tx, events, readings = await sync_to_async(stored)()
    assert [(seq, kind) for seq, kind, _ in events] == [
        (0, "Started"),
        (1, "Updated"),
        (2, "Ended"),
    ]
    assert readings == [1500.0, 2000.0]
    assert tx.stopped_at is not None
    assert await sync_to_async(reports)() == []
