"""apps.core.events: one type per live event, serialised once, in the shape the browser reads."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson
import pytest

from apps.core import events, live
from apps.core.events import (
    CardScanned,
    CommandFinished,
    ConnectorStatusChanged,
    LiveEvent,
    MeterValuesRecorded,
    SecurityEventRecorded,
    StationConnected,
    StationDisconnected,
    StationHeartbeat,
    TransactionEventRecorded,
    TransactionStarted,
    TransactionStopped,
)

AT = datetime(2025, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)
WIRE_AT = "2025-03-01T10:00:00.250000+00:00"

# Each event type, built as its publisher builds it, and the "data" the browser gets, in
# order (static/control_center/live.js reads these names).
CASES = [
    (
        StationConnected(station=1, charger_id="CP-1", connection="c1", at=AT),
        {"station": 1, "charger_id": "CP-1", "online": True, "connection": "c1", "at": WIRE_AT},
    ),
    (
        StationDisconnected(station=1, connection="c1", at=AT),
        {"station": 1, "online": False, "connection": "c1", "at": WIRE_AT},
    ),
    (StationHeartbeat(station=2, at=AT), {"station": 2, "at": WIRE_AT}),
    (
        ConnectorStatusChanged(
            station=3, connector=2, status="Faulted", error_code="GroundFailure", at=AT
        ),
        {
            "station": 3,
            "connector": 2,
            "status": "Faulted",
            "error_code": "GroundFailure",
            "at": WIRE_AT,
        },
    ),
    (
        TransactionStarted(
            station=4,
            connector=1,
            transaction=40,
            transaction_id="123456",
            id_tag="TAG-1",
            meter_start_wh=1000,
            started_at=AT,
        ),
        {
            "station": 4,
            "connector": 1,
            "transaction": 40,
            "transaction_id": "123456",
            "id_tag": "TAG-1",
            "meter_start_wh": 1000,
            "started_at": WIRE_AT,
            "active": True,
        },
    ),
    (
        TransactionStopped(
            station=4,
            transaction=None,
            transaction_id="999",
            meter_stop_wh=2500,
            stopped_at=AT,
            reason="EVDisconnected",
        ),
        {
            "station": 4,
            "transaction": None,
            "transaction_id": "999",
            "meter_stop_wh": 2500,
            "stopped_at": WIRE_AT,
            "reason": "EVDisconnected",
            "active": False,
        },
    ),
    (
        TransactionEventRecorded(
            station=5,
            connector=2,
            transaction=50,
            transaction_id="TX-5",
            id_tag="TOKEN",
            meter_start_wh=None,
            started_at=AT,
            stopped_at=None,
            reason="",
            active=True,
            power_w=7400.0,
            register_wh=None,
        ),
        {
            "station": 5,
            "connector": 2,
            "transaction": 50,
            "transaction_id": "TX-5",
            "id_tag": "TOKEN",
            "meter_start_wh": None,
            "started_at": WIRE_AT,
            "stopped_at": None,
            "reason": "",
            "active": True,
            "power_w": 7400.0,
            "register_wh": None,
        },
    ),
    (
        MeterValuesRecorded(
            station=6, connector=1, transaction_id=None, power_w=3700.0, register_wh=2500.0
        ),
        {
            "station": 6,
            "connector": 1,
            "transaction_id": None,
            "power_w": 3700.0,
            "register_wh": 2500.0,
        },
    ),
    (
        CommandFinished(
            command=70,
            station=7,
            action="Reset",
            status="error",
            error_code="NotSupported",
            error_description="no",
            at=AT,
        ),
        {
            "command": 70,
            "station": 7,
            "action": "Reset",
            "status": "error",
            "error_code": "NotSupported",
            "error_description": "no",
            "at": WIRE_AT,
        },
    ),
    (
        SecurityEventRecorded(
            event=80,
            station=None,
            charger_id="CP-8",
            source="csms",
            event_type="InvalidChargerPassword",
            tech_info="bad password",
            at=AT,
        ),
        {
            "event": 80,
            "station": None,
            "charger_id": "CP-8",
            "source": "csms",
            "event_type": "InvalidChargerPassword",
            "tech_info": "bad password",
            "at": WIRE_AT,
        },
    ),
    (
        CardScanned(
            scan=9,
            uid="04A1B2C3",
            result="Accepted",
            action="started",
            station="CP-9",
            detail="",
            at=AT,
        ),
        {
            "scan": 9,
            "uid": "04A1B2C3",
            "result": "Accepted",
            "action": "started",
            "station": "CP-9",
            "detail": "",
            "at": WIRE_AT,
        },
    ),
]


@pytest.fixture
def sent(monkeypatch, settings) -> list[dict]:
    """The group messages publish() sends while a dashboard of this process watches."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    messages: list[dict] = []

    class Layer:
        async def group_send(self, group: str, message: dict) -> None:
            messages.append(message)

    monkeypatch.setattr(live, "get_channel_layer", lambda: Layer())
    monkeypatch.setattr(live, "_loop", None)
    live.watcher_joined()
    yield messages
    live.watcher_left()


@pytest.fixture
def dumps(monkeypatch) -> list[object]:
    """What orjson serialised: every call of orjson.dumps, in this process, in order."""
    calls: list[object] = []
    real = orjson.dumps

    def counting(obj, *args, **kwargs):
        calls.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(orjson, "dumps", counting)
    return calls


@pytest.mark.parametrize(("event", "data"), CASES, ids=[type(event).__name__ for event, _ in CASES])
def test_each_event_is_serialised_once_in_its_wire_shape(
    event, data, sent, dumps, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        live.publish(event)
        assert dumps == []  # nothing before the commit
    assert len(dumps) == 1
    [message] = sent
    assert message["type"] == live.EVENT_TYPE and message["kind"] == event.kind
    wire = orjson.loads(message["text"])
    assert list(wire) == ["kind", "data"] and wire["kind"] == event.kind
    assert list(wire["data"].items()) == list(data.items())  # names, values and their order


def event_types() -> set[type[LiveEvent]]:
    """The event types of apps.core.events (a slotted dataclass's first class is left out)."""
    return {
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, LiveEvent) and value is not LiveEvent
    }


def test_every_event_type_has_its_case():
    assert {type(event) for event, _ in CASES} == event_types()


def test_the_wire_kinds_are_those_the_page_handles():
    kinds = {cls.kind for cls in event_types()}
    handlers = (
        "station",
        "heartbeat",
        "connector",
        "transaction",
        "meter",
        "command",
        "security",
        "card",
    )
    assert kinds == set(handlers)


@pytest.mark.parametrize("event", [event for event, _ in CASES], ids=lambda e: type(e).__name__)
def test_events_are_small_and_immutable(event):
    assert not hasattr(event, "__dict__")  # slots
    first = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, first, None)


def test_the_online_and_active_flags_follow_the_type_not_the_caller():
    with pytest.raises(TypeError):
        StationDisconnected(station=1, connection="", at=AT, online=True)
    with pytest.raises(TypeError):
        TransactionStopped(
            station=1,
            transaction=1,
            transaction_id="1",
            meter_stop_wh=0,
            stopped_at=AT,
            reason="",
            active=True,
        )


def test_serialise_writes_what_orjson_does_not_know_as_text():
    event = StationHeartbeat(station=1, at=AT)
    assert events.serialise(event) == (
        '{"kind":"heartbeat","data":{"station":1,"at":"2025-03-01T10:00:00.250000+00:00"}}'
    )
    odd = StationHeartbeat(station=object(), at=AT)  # type: ignore[arg-type]
    assert "object object" in events.serialise(odd)


def test_nothing_is_serialised_while_nobody_watches(
    dumps, settings, db, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert not live.watched()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for event, _ in CASES:
            live.publish(event)
    assert callbacks == [] and dumps == []
