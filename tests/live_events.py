"""Fixtures that record what `apps.core.live.publish` sends instead of sending it.

Loaded for every test by `pytest_plugins` in tests/conftest.py (the events, publishers and
dashboard tests use them).
"""

from __future__ import annotations

import threading

import pytest

from apps.core import live


@pytest.fixture
def watching():
    """Count one dashboard open in this process, as the consumer does."""
    live.watcher_joined()
    yield
    live.watcher_left()


IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
SHARED = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}


class Sent(list):
    """The group messages publish() sent, recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def wait(self) -> Sent:
        # A shared layer is sent to from the publisher's own thread.
        assert self.arrived.wait(5), "nothing was sent"
        return self


@pytest.fixture
def sent(monkeypatch, settings) -> Sent:
    settings.CHANNEL_LAYERS = IN_MEMORY
    messages = Sent()

    class Layer:
        async def group_send(self, group: str, message: dict) -> None:
            messages.append((group, message))
            messages.arrived.set()

    monkeypatch.setattr(live, "get_channel_layer", lambda: Layer())
    monkeypatch.setattr(live, "_loop", None)
    return messages
