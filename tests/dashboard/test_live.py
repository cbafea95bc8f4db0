"""apps.core.live.publish: one group message after commit, nothing when nobody watches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import orjson
import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from apps.chargers.services import ConnectorStatus, connector_status_update
from apps.core import live
from apps.core.events import LiveEvent, StationHeartbeat
from tests.live_events import SHARED

AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Odd(LiveEvent):
    """An event whose value orjson may not know how to write."""

    kind: ClassVar[str] = "odd"
    value: object


def test_it_sends_nothing_when_no_dashboard_is_open_on_the_in_memory_layer(
    sent, db, django_capture_on_commit_callbacks
):
    assert live.watchers() == 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        live.publish(StationHeartbeat(station=1, at=AT))
    assert callbacks == [] and sent == []


def test_it_sends_one_group_message_after_the_commit(
    watching, sent, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live.publish(StationHeartbeat(station=7, at=AT))
        assert sent == []  # not before the commit
    for callback in callbacks:
        callback()
    assert len(sent.wait()) == 1
    group, message = sent[0]
    assert group == "dashboard" and message["type"] == "dashboard.event"
    assert orjson.loads(message["text"]) == {
        "kind": "heartbeat",
        "data": {"station": 7, "at": "2025-03-01T10:00:00+00:00"},
    }


@pytest.mark.django_db(transaction=True)
def test_it_sends_nothing_for_a_rolled_back_change(watching, sent):
    with pytest.raises(RuntimeError), transaction.atomic():
        live.publish(StationHeartbeat(station=1, at=AT))
        raise RuntimeError("rolled back")
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_it_always_sends_on_a_shared_layer(sent, settings):
    settings.CHANNEL_LAYERS = SHARED
    assert live.watchers() == 0
    live.publish(StationHeartbeat(station=1, at=AT))
    assert [message["kind"] for _, message in sent.wait()] == ["heartbeat"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_layer_never_breaks_the_caller(watching, monkeypatch, caplog):
    def broken():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", broken)
    live.publish(StationHeartbeat(station=1, at=AT))  # no exception
    assert "live event heartbeat not published" in caplog.text


def test_unserialisable_data_is_logged_not_raised(watching, sent, caplog):
    live._send(Odd(value=object()))  # orjson's default=str copes
    assert "object object" in sent.wait()[0][1]["text"]
    live._send(Odd(value={1: "non-string key"}))
    assert "live event odd not published" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_services_publish_what_changed(watching, sent):
    from apps.chargers.models import ChargingStation

    station = ChargingStation.objects.create(charger_id="CP-LIVE")
    connector_status_update(
        station_id=station.pk,
        report=ConnectorStatus(connector_id=2, status="Faulted", error_code="GroundFailure"),
    )
    event = orjson.loads(sent.wait()[-1][1]["text"])
    assert event["kind"] == "connector"
    assert event["data"] | {"at": None} == {
        "station": station.pk,
        "connector": 2,
        "status": "Faulted",
        "error_code": "GroundFailure",
        "at": None,
    }


async def test_it_reaches_a_channel_of_the_group_on_the_real_layer(watching, monkeypatch, db):
    # As in the server: the dashboards' loop is known, services run in worker threads.
    monkeypatch.setattr(live, "_loop", asyncio.get_running_loop())
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(live.GROUP, channel)
    try:
        await asyncio.to_thread(live._send, StationHeartbeat(station=3, at=AT))
        message = await asyncio.wait_for(layer.receive(channel), 5)
    finally:
        await layer.group_discard(live.GROUP, channel)
    assert message["kind"] == "heartbeat"
    assert orjson.loads(message["text"])["data"] == {"station": 3, "at": AT.isoformat()}
