"""Simulators started from the admin: fleets in this process, on one background event loop.

The admin's request runs in a worker thread of the server; it must not run chargers on its
own (short-lived) thread, nor assume how the server's loop is reached. So the runner owns a
daemon thread with its own event loop, started lazily, and requests hand it coroutines with
`asyncio.run_coroutine_threadsafe`. Every fleet reports its counters to its Simulator row
every REPORT_EVERY_S seconds; a row set to stopped by another process stops it too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from apps.simulator.fleet import Fleet, FleetConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

REPORT_EVERY_S = 2.0
# How long a request waits for the runner (to start, or for a fleet to wind down).
WAIT_S = 20.0


class AlreadyRunning(Exception):
    pass


@dataclass
class _Run:
    fleet: Fleet
    task: asyncio.Task


async def _db(func: Callable[..., T], **kwargs: Any) -> T:
    def call() -> T:
        close_old_connections()
        try:
            return func(**kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


class SimulatorRunner:
    def __init__(self, report_every_s: float = REPORT_EVERY_S) -> None:
        self.report_every_s = report_every_s
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runs: dict[int, _Run] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="simulator-runner", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def is_running(self, simulator_id: int) -> bool:
        return simulator_id in self._runs

    def start(self, simulator_id: int, config: FleetConfig) -> None:
        """Start a fleet for the simulator; raise AlreadyRunning if this process runs it."""
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(self._start(simulator_id, config), loop)
        future.result(WAIT_S)

    def stop(self, simulator_id: int) -> bool:
        """Stop the simulator's fleet and wait for it to wind down; False if not run here."""
        loop = self._loop
        if loop is None or simulator_id not in self._runs:
            return False
        future = asyncio.run_coroutine_threadsafe(self._stop(simulator_id), loop)
        return future.result(WAIT_S + 5)

    async def _start(self, simulator_id: int, config: FleetConfig) -> None:
        if simulator_id in self._runs:
            raise AlreadyRunning(f"simulator {simulator_id} is already running")
        fleet = Fleet(config)
        task = asyncio.create_task(self._supervise(simulator_id, fleet))
        self._runs[simulator_id] = _Run(fleet, task)

    async def _stop(self, simulator_id: int) -> bool:
        run = self._runs.get(simulator_id)
        if run is None:
            return False
        run.fleet.request_stop()
        await asyncio.wait({run.task}, timeout=WAIT_S)
        return True

    async def _supervise(self, simulator_id: int, fleet: Fleet) -> None:
        from apps.simulator import services

        error = ""
        running = asyncio.create_task(fleet.run())
        try:
            while not running.done():
                await asyncio.wait({running}, timeout=self.report_every_s)
                if running.done():
                    break
                try:
                    still_wanted = await _db(
                        services.simulator_report,
                        simulator_id=simulator_id,
                        counters=fleet.stats.as_dict(),
                    )
                except Exception:
                    logger.exception("simulator %s: could not report", simulator_id)
                    continue
                if not still_wanted:
                    fleet.request_stop()
            running.result()
        except asyncio.CancelledError:
            fleet.request_stop()
            await asyncio.wait({running}, timeout=WAIT_S)
            raise
        except Exception as exc:
            logger.exception("simulator %s failed", simulator_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                await _db(
                    services.simulator_finish,
                    simulator_id=simulator_id,
                    counters=fleet.stats.as_dict(),
                    error=error,
                )
            except Exception:
                logger.exception("simulator %s: could not record the end", simulator_id)
            # Only now: whoever sees it no longer running finds the final counters stored.
            self._runs.pop(simulator_id, None)


runner = SimulatorRunner()
