"""Many simulated chargers in one event loop, with shared counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.simulator.charger import SimulatedCharger
from apps.simulator.state import DEFAULT_ID_TAG, SCRIPTED, ChargerConfig, id_tag_for
from apps.simulator.stats import Stats

logger = logging.getLogger(__name__)

# Seconds the chargers get to end their sessions and close before they are cancelled.
STOP_GRACE_S = 10.0


def charger_ids(prefix: str, count: int, first: int = 1) -> list[str]:
    """Return the ids of a fleet: prefix and a zero-padded number (SIM-0001, SIM-0002...)."""
    width = max(4, len(str(first + count - 1)))
    return [f"{prefix}{n:0{width}d}" for n in range(first, first + count)]


@dataclass
class FleetConfig:
    count: int
    url: str
    version: str = "1.6"
    prefix: str = "SIM-"
    first: int = 1
    connectors: int = 1
    meter_interval: float = 10.0
    mode: str = SCRIPTED
    id_tag: str = DEFAULT_ID_TAG
    password: str = ""
    session_duration: float | None = None
    session_pause: float | None = None
    connect_rate: float = 0.0  # new connections per second; 0: all at once
    options: dict[str, Any] = field(default_factory=dict)  # more ChargerConfig fields

    @property
    def id_tags(self) -> list[str]:
        """Every tag the scripted sessions of the fleet present."""
        tags = {
            id_tag_for(self.id_tag, number, connector)
            for number in range(self.first, self.first + self.count)
            for connector in range(1, self.connectors + 1)
        }
        return sorted(tags)


class Fleet:
    """N simulated chargers as N tasks of the running loop."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.stats = Stats(chargers=config.count)
        self.chargers = [
            SimulatedCharger(
                ChargerConfig(
                    charger_id=charger_id,
                    url=config.url,
                    version=config.version,
                    connectors=config.connectors,
                    meter_interval=config.meter_interval,
                    mode=config.mode,
                    id_tag=config.id_tag,
                    number=config.first + n,
                    password=config.password,
                    session_duration=config.session_duration,
                    session_pause=config.session_pause,
                    start_delay=n / config.connect_rate if config.connect_rate > 0 else 0.0,
                    **config.options,
                ),
                self.stats,
            )
            for n, charger_id in enumerate(charger_ids(config.prefix, config.count, config.first))
        ]
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    def request_stop(self) -> None:
        """Make run() end its chargers' sessions, close their connections and return."""
        if self._stop is not None:
            self._stop.set()
        for charger in self.chargers:
            charger.stop()

    async def run(
        self,
        duration: float | None = None,
        *,
        on_tick: Callable[[Stats], None] | None = None,
        tick_s: float = 1.0,
        grace_s: float = STOP_GRACE_S,
    ) -> Stats:
        """Run every charger until `duration` seconds have passed or request_stop()."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        deadline = loop.time() + duration if duration else None
        self._tasks = [
            asyncio.create_task(charger.run(), name=f"simulator:{charger.charger_id}")
            for charger in self.chargers
        ]
        try:
            while not self._stop.is_set() and not all(task.done() for task in self._tasks):
                wait = tick_s if deadline is None else min(tick_s, deadline - loop.time())
                if wait <= 0:
                    break
                try:
                    async with asyncio.timeout(wait):
                        await self._stop.wait()
                except TimeoutError:
                    pass
                if on_tick is not None:
                    on_tick(self.stats)
        finally:
            await self._shutdown(grace_s)
        return self.stats

    async def _shutdown(self, grace_s: float) -> None:
        for charger in self.chargers:
            charger.stop()
        if not self._tasks:
            return
        done, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                logger.error("%s failed", task.get_name(), exc_info=task.exception())
                self.stats.errors += 1
                self.stats.last_error = f"{task.get_name()}: {task.exception()!r}"
