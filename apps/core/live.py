"""Live events for the control center: `publish(event)` tells the open dashboards.

Services call it on the charger message path, so it is cheap and never fails its caller:
no database work, one channel-layer `group_send` to the "dashboard" group once the current
transaction commits (nothing when it rolls back), and nothing at all while the in-memory
layer is in use, no dashboard is open in this process and no local listener is subscribed
(`watched()` is False). With Redis the event is always sent, since a dashboard may be open
in another process.

Local listeners (`subscribe(callback)`: this node's LCD, its desktop toasts) get each event
of this process after the commit, from one dispatcher thread fed by a bounded queue: the
publisher only enqueues, and a slow or failing listener neither blocks nor reaches it (a
full queue drops the event, counted in `dropped()` and logged).

The event (a type of `apps.core.events`) is serialised once, when it is sent, so the caller
pays for that only when someone watches; the dashboards forward that text as it is.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from apps.core.events import LiveEvent, serialise

logger = logging.getLogger(__name__)

GROUP = "dashboard"
# The consumer method a group message reaches: DashboardConsumer.dashboard_event.
EVENT_TYPE = "dashboard.event"

_lock = threading.Lock()
_watchers = 0
# Dashboards of this process plus local listeners: what `watched()` reads, one comparison.
_interested = 0
# The event loop of this process's dashboard sockets: an in-memory layer lives on it.
_loop: asyncio.AbstractEventLoop | None = None


def watcher_joined(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Count a dashboard socket opened in this process, served on `loop`."""
    global _watchers, _interested, _loop
    with _lock:
        _watchers += 1
        _interested = _watchers + len(_listeners)
        if loop is not None:
            _loop = loop


def watcher_left() -> None:
    """Count a dashboard socket of this process closed."""
    global _watchers, _interested
    with _lock:
        _watchers = max(0, _watchers - 1)
        _interested = _watchers + len(_listeners)


def watchers() -> int:
    """Return how many dashboard sockets this process serves."""
    return _watchers


def _in_memory_layer() -> bool:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return backend.endswith("InMemoryChannelLayer")


def _dashboards_watch() -> bool:
    return _watchers > 0 or not _in_memory_layer()


def watched() -> bool:
    """Tell whether a published event would be sent: a dashboard or a local listener may watch.

    A publisher whose event costs something to build (figures from meter samples) asks
    first, so a charger's message pays nothing for it while nobody watches.
    """
    # One counter for dashboards and listeners: with neither (the default), the cost is what
    # it was before there were listeners.
    return _interested > 0 or not _in_memory_layer()


def publish(event: LiveEvent) -> None:
    """Send `event` to the open dashboards and this process's listeners after the commit.

    Never raises: a failure is logged, and the caller's exchange with its charger goes on.
    """
    try:
        if not watched():
            return
        transaction.on_commit(lambda: _deliver(event))
    except Exception:
        logger.warning("live event %s not published", _kind(event), exc_info=True)


def _deliver(event: LiveEvent) -> None:
    if _listeners:
        _enqueue(event)
    if _dashboards_watch():
        _send(event)


# --- Local listeners ---------------------------------------------------------------------

Listener = Callable[[LiveEvent], None]

# How many events may wait for the listeners; beyond that they are dropped (and counted).
QUEUE_SIZE = 1000

# A tuple, replaced on each change: the publisher reads it without the lock.
_listeners: tuple[Listener, ...] = ()
_queue: queue.Queue[LiveEvent | threading.Event] = queue.Queue(QUEUE_SIZE)
_dispatcher: threading.Thread | None = None
_dropped = 0


def subscribe(callback: Listener) -> None:
    """Call `callback(event)` with each event this process publishes, after its commit.

    The callback runs in the dispatcher thread, one event at a time and in order; it should
    be quick (hand the event to its own thread). Its exceptions are logged, never raised.
    """
    global _listeners, _interested, _dispatcher
    with _lock:
        if callback not in _listeners:
            _listeners = (*_listeners, callback)
        _interested = _watchers + len(_listeners)
        if _dispatcher is None or not _dispatcher.is_alive():
            _dispatcher = threading.Thread(target=_dispatch, name="live-listeners", daemon=True)
            _dispatcher.start()


def unsubscribe(callback: Listener) -> None:
    """Stop calling `callback` (events already queued are not given to it)."""
    global _listeners, _interested
    with _lock:
        _listeners = tuple(c for c in _listeners if c != callback)
        _interested = _watchers + len(_listeners)


def listeners() -> int:
    """Return how many local listeners are subscribed."""
    return len(_listeners)


def dropped() -> int:
    """Return how many events the listeners missed because their queue was full."""
    return _dropped


def flush(timeout: float = 5.0) -> bool:
    """Wait until the events queued so far reached the listeners; False on timeout."""
    if _dispatcher is None or not _dispatcher.is_alive():
        return _queue.empty()
    reached = threading.Event()
    try:
        _queue.put(reached, timeout=timeout)
    except queue.Full:
        return False
    return reached.wait(timeout)


def _enqueue(event: LiveEvent) -> None:
    global _dropped
    try:
        _queue.put_nowait(event)
    except queue.Full:
        with _lock:
            _dropped += 1
            count = _dropped
        # One line for the first and then every hundredth: a stuck listener must not flood.
        if count == 1 or count % 100 == 0:
            logger.warning(
                "live event %s not given to local listeners: queue full (%d dropped)",
                _kind(event),
                count,
            )


def _dispatch() -> None:
    while True:
        item = _queue.get()
        if isinstance(item, threading.Event):
            item.set()
            continue
        for callback in _listeners:
            try:
                callback(item)
            except Exception:
                logger.warning(
                    "local listener %r failed on live event %s",
                    callback,
                    _kind(item),
                    exc_info=True,
                )


def _send(event: LiveEvent) -> None:
    kind = _kind(event)
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        message = {
            "type": EVENT_TYPE,
            "kind": kind,
            # The station's primary key, for the watchers who see only some sites; None for
            # an event of no known station (those go to watchers of all sites only).
            "station": _station_of(event),
            "text": serialise(event),
        }
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


def _station_of(event: LiveEvent) -> int | None:
    station = getattr(event, "station", None)
    # CardScanned names its (local) charger by charger id: not a station key.
    return station if type(station) is int else None


def _kind(event: LiveEvent) -> str:
    # For the log only: whatever was passed, naming it must not raise.
    return str(getattr(event, "kind", type(event).__name__))


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
