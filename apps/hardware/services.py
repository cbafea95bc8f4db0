"""Managed background services for this node's hardware (card reader, LCD, toasts).

A service is a `HardwareService`: a name, the feature that switches it, and `run(ctx)`, which
works until `ctx.stopping()` says to stop (the server is ending, or the operator switched the
feature off) or raises. Its supervisor thread:

- keeps it idle while its feature is not active (asking the feature catalogue every
  IDLE_CHECK_S seconds), and starts it when the feature becomes active;
- restarts it after an error, waiting RESTART_MIN_S, doubling up to RESTART_MAX_S;
- records each change of state in `ServiceStatus` (shown in the admin).

Only one process of a node runs the services (a file lock in DATA_DIR/run): with several
server workers, the others leave the devices alone. They start when the server process starts
(`apps.core.processes.process_serving`) and stop at its exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections

from apps.core.nodelock import NodeLock
from apps.hardware.models import ServiceStatus
from apps.nodes.features import feature_active

logger = logging.getLogger(__name__)

IDLE_CHECK_S = 5.0
RESTART_MIN_S = 1.0
RESTART_MAX_S = 60.0


class Context:
    """What a running service asks: should it stop, and a wait that ends when it should."""

    def __init__(self, stop: threading.Event, still_wanted: Callable[[], bool]) -> None:
        self._stop = stop
        self._still_wanted = still_wanted
        self._checked = 0.0

    def stopping(self) -> bool:
        """True when the service must return: the server ends, or its feature went off."""
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self._checked >= IDLE_CHECK_S:
            self._checked = now
            try:
                if not self._still_wanted():
                    return True
            except Exception:  # the database may be down: keep running
                logger.debug("feature check failed", exc_info=True)
        return False

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; return True when the service must stop."""
        if self._stop.wait(seconds):
            return True
        return self.stopping()


class HardwareService(Protocol):
    name: str
    feature: str

    def run(self, ctx: Context) -> None: ...


_factories: list[Callable[[], HardwareService]] = []
_lock = threading.Lock()
_stop = threading.Event()
_threads: dict[str, threading.Thread] = {}
_node_lock = NodeLock("hardware")
_exit_hook_set = False


def register(factory: Callable[[], HardwareService]) -> None:
    """Add a service (by its factory, called when the services start)."""
    if factory not in _factories:
        _factories.append(factory)


def record(name: str, feature: str, state: str, detail: str = "", restarted: bool = False) -> None:
    """Record a service's state (never raises: a database outage must not stop a device)."""
    try:
        close_old_connections()
        status, _created = ServiceStatus.objects.get_or_create(
            name=name, defaults={"feature": feature, "state": state}
        )
        status.feature = feature
        status.state = state
        status.detail = detail[:300]
        if restarted:
            status.restarts += 1
        status.save()
    except Exception:
        logger.warning("hardware service %s: state %s not recorded", name, state, exc_info=True)


def supervise(service: HardwareService, stop: threading.Event) -> None:
    """Run `service` while its feature is active, restarting it after errors, until `stop`."""

    def wanted() -> bool:
        return feature_active(service.feature)

    delay = RESTART_MIN_S
    idle_recorded = False
    while not stop.is_set():
        try:
            active = wanted()
        except Exception:
            logger.warning("hardware service %s: feature check failed", service.name, exc_info=True)
            active = False
        if not active:
            if not idle_recorded:
                record(service.name, service.feature, ServiceStatus.State.IDLE)
                idle_recorded = True
            stop.wait(IDLE_CHECK_S)
            continue
        idle_recorded = False
        record(service.name, service.feature, ServiceStatus.State.RUNNING)
        try:
            service.run(Context(stop, wanted))
            delay = RESTART_MIN_S
            # It returned (its feature went off, or it chose to): pause before asking again, so
            # a service that returns at once is not restarted in a tight loop.
            stop.wait(RESTART_MIN_S)
        except Exception as exc:
            logger.warning("hardware service %s failed; restarting", service.name, exc_info=True)
            record(
                service.name,
                service.feature,
                ServiceStatus.State.FAILED,
                f"{type(exc).__name__}: {exc}",
                restarted=True,
            )
            stop.wait(delay)
            delay = min(delay * 2, RESTART_MAX_S)
    record(service.name, service.feature, ServiceStatus.State.STOPPED)


def _take_node_lock() -> bool:
    """Take this node's hardware lock (one process per node runs the services)."""
    return _node_lock.take()


def start_services(**_kwargs: object) -> list[str]:
    """Start every registered service's supervisor (once); return their names."""
    global _exit_hook_set
    if not getattr(settings, "HARDWARE_SERVICES", True):
        return []
    with _lock:
        if not _exit_hook_set:
            atexit.register(stop_services)
            _exit_hook_set = True
        if not _take_node_lock():
            logger.info("hardware services run in another process of this node")
            return []
        _stop.clear()
        for factory in _factories:
            service = factory()
            thread = _threads.get(service.name)
            if thread is not None and thread.is_alive():
                continue
            thread = threading.Thread(
                target=supervise, args=(service, _stop), name=f"hw-{service.name}", daemon=True
            )
            _threads[service.name] = thread
            thread.start()
        return sorted(_threads)


def stop_services(timeout: float = 5.0, **_kwargs: object) -> None:
    """Stop the supervisors and their services, waiting up to `timeout` seconds each."""
    with _lock:
        _stop.set()
        for thread in list(_threads.values()):
            thread.join(timeout)
        _threads.clear()
        _node_lock.release()
