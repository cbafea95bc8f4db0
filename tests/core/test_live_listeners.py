"""apps.core.live's local listeners: events of this process, after the commit, off the publisher's
thread, and a listener that fails or falls behind never reaches the publisher."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest
from django.db import transaction

from apps.core import live
from apps.core.events import LiveEvent, StationHeartbeat

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def beat(n: int = 1) -> StationHeartbeat:
    return StationHeartbeat(station=n, at=AT)


class Recorder:
    def __init__(self) -> None:
        self.events: list[LiveEvent] = []
        self.threads: set[str] = set()

    def __call__(self, event: LiveEvent) -> None:
        self.events.append(event)
        self.threads.add(threading.current_thread().name)


@pytest.fixture
def listen():
    """Subscribe listeners for one test; they are unsubscribed after it."""
    added = []

    def add(callback):
        live.subscribe(callback)
        added.append(callback)
        return callback

    yield add
    for callback in added:
        live.unsubscribe(callback)
    assert live.flush()


@pytest.fixture
def in_memory(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_watched_is_true_only_while_a_listener_is_subscribed(in_memory):
    recorder = Recorder()
    assert not live.watched()

    live.subscribe(recorder)
    try:
        assert live.watched() and live.listeners() == 1
    finally:
        live.unsubscribe(recorder)

    assert not live.watched() and live.listeners() == 0


@pytest.mark.django_db(transaction=True)
def test_a_listener_gets_each_event_after_the_commit_in_its_own_thread(in_memory, listen):
    recorder = listen(Recorder())

    with transaction.atomic():
        live.publish(beat(1))
        live.publish(beat(2))
        assert live.flush()
        assert recorder.events == []  # not before the commit

    assert live.flush()
    assert recorder.events == [beat(1), beat(2)]
    assert recorder.threads == {"live-listeners"}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_reaches_no_listener(in_memory, listen):
    recorder = listen(Recorder())

    with pytest.raises(RuntimeError), transaction.atomic():
        live.publish(beat())
        raise RuntimeError("rolled back")

    assert live.flush()
    assert recorder.events == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_listener_reaches_neither_the_publisher_nor_the_others(in_memory, listen, caplog):
    def failing(event: LiveEvent) -> None:
        raise ValueError("broken listener")

    listen(failing)
    recorder = listen(Recorder())

    with caplog.at_level(logging.WARNING, logger="apps.core.live"):
        live.publish(beat())  # does not raise
        assert live.flush()

    assert recorder.events == [beat()]
    assert "failed on live event heartbeat" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_listener_that_falls_behind_loses_events_not_the_publisher(in_memory, listen, caplog):
    entered, release = threading.Event(), threading.Event()
    got: list[LiveEvent] = []

    def slow(event: LiveEvent) -> None:
        got.append(event)
        entered.set()
        release.wait(30)

    listen(slow)
    live.publish(beat(0))
    assert entered.wait(10)  # the dispatcher is held in the listener
    dropped = live.dropped()

    with caplog.at_level(logging.WARNING, logger="apps.core.live"):
        for n in range(1, live.QUEUE_SIZE + 3):  # two more than the queue holds
            live.publish(beat(n))
    release.set()

    assert live.dropped() - dropped == 2
    assert "queue full" in caplog.text
    assert live.flush()
    assert len(got) == 1 + live.QUEUE_SIZE
    assert got[-1] == beat(live.QUEUE_SIZE)


@pytest.mark.django_db(transaction=True)
def test_with_only_a_listener_nothing_goes_to_the_channel_layer(sent, listen):
    recorder = listen(Recorder())

    live.publish(beat())

    assert live.flush()
    assert recorder.events == [beat()]
    assert list(sent) == []


@pytest.mark.django_db(transaction=True)
def test_a_dashboard_and_a_listener_both_get_the_event(sent, watching, listen):
    recorder = listen(Recorder())

    live.publish(beat())

    assert live.flush()
    assert recorder.events == [beat()]
    assert [group for group, _message in sent.wait()] == ["dashboard"]
