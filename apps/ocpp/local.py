"""The charger connections this process holds, and the poll that hands them pending commands.

A server runs one event loop (the tests run several, one per live server); each loop keeps
its connections by station id and, while it has any, one task that looks in the database
for their pending commands every OCPP_COMMAND_POLL_INTERVAL seconds (commands whose
channel-layer message was lost, or sent by a process that could not reach the layer). The
task starts with the loop's first connection and is cancelled with its last, so it never
outlives its loop; daphne has no ASGI lifespan to tie it to.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Protocol

from django.conf import settings

from apps.commands.services import pending_command_ids
from apps.ocpp.dbthreads import run_sync

logger = logging.getLogger(__name__)


class Held(Protocol):
    """What the registry needs of a connection."""

    def enqueue(self, command_id: int) -> None: ...

    async def end(self, code: int, reason: str) -> None: ...


class _LoopConnections:
    __slots__ = ("by_station", "poller")

    def __init__(self) -> None:
        self.by_station: dict[int, Held] = {}
        self.poller: asyncio.Task[None] | None = None


_loops: dict[asyncio.AbstractEventLoop, _LoopConnections] = {}


def holds(station_id: int) -> bool:
    """Tell whether a connection of this process serves the station (from any thread)."""
    return any(station_id in here.by_station for here in tuple(_loops.values()))


def deliver(station_id: int, command_id: int) -> bool:
    """Hand a command to this process's connection of the station, from any thread.

    Return False when no connection of this process serves the station.
    """
    for loop, here in tuple(_loops.items()):
        connection = here.by_station.get(station_id)
        if connection is not None and not loop.is_closed():
            loop.call_soon_threadsafe(connection.enqueue, command_id)
            return True
    return False


def get(station_id: int) -> Held | None:
    """Return the running loop's connection serving the station, if any."""
    here = _loops.get(asyncio.get_running_loop())
    return None if here is None else here.by_station.get(station_id)


def add(station_id: int, connection: Held) -> None:
    """Record the running loop's connection of the station; start the loop's poll if need be."""
    loop = asyncio.get_running_loop()
    here = _loops.get(loop)
    if here is None:
        here = _loops[loop] = _LoopConnections()
    here.by_station[station_id] = connection
    interval = settings.OCPP_COMMAND_POLL_INTERVAL
    if here.poller is None and interval > 0:
        here.poller = loop.create_task(_poll_pending_commands(here, interval))


def discard(station_id: int, connection: Held) -> None:
    """Forget the connection unless another serves the station now; its loop's last one stops
    the loop's poll."""
    for loop, here in tuple(_loops.items()):
        if here.by_station.get(station_id) is connection:
            del here.by_station[station_id]
            if not here.by_station:
                del _loops[loop]
                if here.poller is not None and not loop.is_closed():
                    here.poller.cancel()
            return


async def _poll_pending_commands(here: _LoopConnections, interval: float) -> None:
    """Hand pending commands of the loop's chargers to their connections."""
    while True:
        await asyncio.sleep(interval)
        station_ids = list(here.by_station)
        if not station_ids:
            continue
        try:
            rows = await run_sync(functools.partial(pending_command_ids, station_ids=station_ids))
        except Exception:
            logger.warning("could not look for pending commands", exc_info=True)
            continue
        for station_id, command_id in rows:
            connection = here.by_station.get(station_id)
            if connection is not None:
                connection.enqueue(command_id)
