"""Every service that publishes a live event sends it in the shape the page reads.

Through the real services and database; the channel layer is the recording stand-in of
conftest.py. The wire "data" of each kind is what static/control_center/live.js reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_connect, station_disconnect, station_heartbeat
from apps.commands.models import ChargerCommand
from apps.commands.services import command_finish
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record
from apps.transactions import services as transactions
from apps.transactions import transaction_events
from apps.transactions.models import Transaction
from apps.transactions.samples import SampledValue
from apps.transactions.services import meter_values_record, transaction_start, transaction_stop
from apps.transactions.transaction_events import TransactionEventData, transaction_event_record

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
POWER = "Power.Active.Import"


@pytest.fixture
def station(db) -> ChargingStation:
    return ChargingStation.objects.create(charger_id="CP-PUB")


@pytest.fixture
def published(watching, sent, db, django_capture_on_commit_callbacks):
    """Run a service; return the one live event it published, as the browser gets it."""

    def run(service, **kwargs) -> dict:
        before = len(sent)
        with django_capture_on_commit_callbacks(execute=True):
            service(**kwargs)
        messages = sent[before:]
        assert len(messages) == 1, messages
        _group, message = messages[0]
        event = orjson.loads(message["text"])
        assert message["kind"] == event["kind"]
        return event

    return run


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_station_connect_and_disconnect(published, station):
    event = published(station_connect, station=station, ocpp_version="ocpp1.6", connection_id="c-7")
    station.refresh_from_db()
    assert event == {
        "kind": "station",
        "data": {
            "station": station.pk,
            "charger_id": "CP-PUB",
            "online": True,
            "connection": "c-7",
            "at": iso(station.connected_at),
        },
    }
    event = published(station_disconnect, station_id=station.pk, connection_id="c-7")
    station.refresh_from_db()
    assert event == {
        "kind": "station",
        "data": {
            "station": station.pk,
            "online": False,
            "connection": "c-7",
            "at": iso(station.disconnected_at),
        },
    }


def test_station_heartbeat(published, station):
    event = published(station_heartbeat, station_id=station.pk)
    station.refresh_from_db()
    assert event == {
        "kind": "heartbeat",
        "data": {"station": station.pk, "at": iso(station.last_heartbeat_at)},
    }


def test_transaction_start_and_stop(published, station):
    event = published(
        transaction_start,
        station_id=station.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start_wh=1000,
        started_at=T0,
        free_charging=True,
    )
    tx = Transaction.objects.get(station=station)
    assert event == {
        "kind": "transaction",
        "data": {
            "station": station.pk,
            "connector": 1,
            "transaction": tx.pk,
            "transaction_id": tx.transaction_id,
            "id_tag": "TAG-1",
            "meter_start_wh": 1000,
            "started_at": iso(T0),
            "active": True,
        },
    }
    event = published(
        transaction_stop,
        station_id=station.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=2500,
        stopped_at=T1,
        reason="EVDisconnected",
    )
    assert event == {
        "kind": "transaction",
        "data": {
            "station": station.pk,
            "transaction": tx.pk,
            "transaction_id": tx.transaction_id,
            "meter_stop_wh": 2500,
            "stopped_at": iso(T1),
            "reason": "EVDisconnected",
            "active": False,
        },
    }


def test_the_stop_of_an_unknown_transaction(published, station):
    event = published(
        transaction_stop,
        station_id=station.pk,
        transaction_id="404",
        meter_stop_wh=1,
        stopped_at=T1,
    )
    assert event["data"]["transaction"] is None and event["data"]["transaction_id"] == "404"
    assert event["data"]["reason"] == "" and event["data"]["active"] is False


def test_meter_values_carry_figures_not_samples(published, station):
    event = published(
        meter_values_record,
        station_id=station.pk,
        connector_id=2,
        transaction_id=None,
        samples=[
            SampledValue(timestamp=T0, value="2.5", unit="kWh"),
            SampledValue(timestamp=T0, value="3700", measurand=POWER),
        ],
    )
    assert event == {
        "kind": "meter",
        "data": {
            "station": station.pk,
            "connector": 2,
            "transaction_id": None,
            "power_w": 3700.0,
            "register_wh": 2500.0,
        },
    }


def tx_event(event_type: str, seq_no: int, **fields) -> TransactionEventData:
    return TransactionEventData(
        event_type=event_type,
        transaction_id="TX-PUB",
        seq_no=seq_no,
        timestamp=T0,
        trigger_reason="Authorized",
        payload={},
        evse_id=3,
        connector_id=1,
        **fields,
    )


def test_a_2x_transaction_event(published, station):
    event = published(
        transaction_event_record,
        station_id=station.pk,
        event=tx_event(
            "Started",
            0,
            id_token="TOKEN-1",
            samples=(SampledValue(timestamp=T0, value="7.4", measurand=POWER, unit="kW"),),
        ),
        free_charging=True,
    )
    tx = Transaction.objects.get(station=station)
    assert event == {
        "kind": "transaction",
        "data": {
            "station": station.pk,
            "connector": 3,
            "transaction": tx.pk,
            "transaction_id": "TX-PUB",
            "id_tag": tx.id_tag,
            "meter_start_wh": tx.meter_start_wh,
            "started_at": iso(tx.started_at),
            "stopped_at": None,
            "reason": "",
            "active": True,
            "power_w": 7400.0,
            "register_wh": None,
        },
    }
    assert tx.id_tag == "TOKEN-1"


def test_command_finish(published, station):
    command = ChargerCommand.objects.create(station=station, action="Reset", timeout_s=5)
    event = published(
        command_finish,
        command=command,
        status="error",
        error_code="NotSupported",
        error_description="not here",
    )
    assert event == {
        "kind": "command",
        "data": {
            "command": command.pk,
            "station": station.pk,
            "action": "Reset",
            "status": "error",
            "error_code": "NotSupported",
            "error_description": "not here",
            "at": iso(command.completed_at),
        },
    }


def test_security_event_record(published, station):
    event = published(
        security_event_record,
        source="csms",
        event_type="InvalidChargerPassword",
        charger_id="CP-PUB",
        station_id=station.pk,
        tech_info="x" * 300,
        occurred_at=T0,
    )
    recorded = SecurityEvent.objects.get(station=station)
    assert event == {
        "kind": "security",
        "data": {
            "event": recorded.pk,
            "station": station.pk,
            "charger_id": "CP-PUB",
            "source": "csms",
            "event_type": "InvalidChargerPassword",
            "tech_info": "x" * 200,
            "at": iso(T0),
        },
    }


def test_readings_cost_nothing_while_nobody_watches(
    monkeypatch, settings, station, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    figured: list[object] = []
    real = transactions.summarize_samples

    def counting(samples):
        figured.append(samples)
        return real(samples)

    monkeypatch.setattr(transactions, "summarize_samples", counting)
    monkeypatch.setattr(transaction_events, "summarize_samples", counting)
    samples = [SampledValue(timestamp=T0, value="3700", measurand=POWER)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        meter_values_record(
            station_id=station.pk, connector_id=1, transaction_id=None, samples=samples
        )
        transaction_event_record(
            station_id=station.pk, event=tx_event("Started", 0, samples=tuple(samples))
        )
    assert figured == [] and callbacks == []
