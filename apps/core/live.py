"""Live events for the control center: `publish(kind, data)` tells the open dashboards.

Services call it on the charger message path, so it is cheap and never fails its caller:
no database work, one channel-layer `group_send` to the "dashboard" group once the current
transaction commits (nothing when it rolls back), and nothing at all while the in-memory
layer is in use and no dashboard is open in this process. With Redis the event is always
sent, since a dashboard may be open in another process.

`data` is serialised with orjson (dataclasses and datetimes included) when it is sent, so
the caller pays for that only when someone watches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

GROUP = "dashboard"
# The consumer method a group message reaches: DashboardConsumer.dashboard_event.
EVENT_TYPE = "dashboard.event"

_lock = threading.Lock()
_watchers = 0
# The event loop of this process's dashboard sockets: an in-memory layer lives on it.
_loop: asyncio.AbstractEventLoop | None = None


def watcher_joined(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Count a dashboard socket opened in this process, served on `loop`."""
    global _watchers, _loop
    with _lock:
        _watchers += 1
        if loop is not None:
            _loop = loop


def watcher_left() -> None:
    """Count a dashboard socket of this process closed."""
    global _watchers
    with _lock:
        _watchers = max(0, _watchers - 1)


def watchers() -> int:
    """Return how many dashboard sockets this process serves."""
    return _watchers


def _in_memory_layer() -> bool:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return backend.endswith("InMemoryChannelLayer")


def publish(kind: str, data: dict[str, Any]) -> None:
    """Send `{"kind": kind, "data": data}` to the open dashboards after the commit.

    Never raises: a failure is logged, and the caller's exchange with its charger goes on.
    """
    try:
        if _watchers == 0 and _in_memory_layer():
            return
        transaction.on_commit(lambda: _send(kind, data))
    except Exception:
        logger.warning("live event %s not published", kind, exc_info=True)


def _send(kind: str, data: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        text = orjson.dumps({"kind": kind, "data": data}, default=str).decode()
        message = {"type": EVENT_TYPE, "kind": kind, "text": text}
        loop = _loop
        if loop is None or not loop.is_running():
            if _in_memory_layer():
                # Only reached from this process's own code paths without a dashboard loop.
                async_to_sync(layer.group_send)(GROUP, message)
                return
            loop = _sender_loop()
        # Fire and forget: the caller (a thread answering a charger) does not wait for the
        # layer. An in-memory layer must be used on the loop its consumers run on; a shared
        # one (Redis) keeps its connections on one long-lived loop of this module.
        future = asyncio.run_coroutine_threadsafe(layer.group_send(GROUP, message), loop)
        future.add_done_callback(_log_failure)
    except Exception:
        logger.warning("live event %s not published", kind, exc_info=True)


_background: asyncio.AbstractEventLoop | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """Return this process's publisher loop, started in a daemon thread on first use."""
    global _background
    with _lock:
        if _background is None or _background.is_closed():
            _background = asyncio.new_event_loop()
            threading.Thread(
                target=_background.run_forever, name="live-publisher", daemon=True
            ).start()
        return _background


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("live event not published: %r", future.exception())
