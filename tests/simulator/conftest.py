"""Simulated chargers against the real ASGI server: shared fixtures and helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.rfid.models import IdTag
from apps.simulator.charger import SimulatedCharger
from apps.simulator.state import ChargerConfig

VERSIONS = ["1.6", "2.0.1", "2.1"]
TAG = "SIM-DRIVER"


@pytest.fixture(autouse=True)
def simulator_settings(settings, tmp_path):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.fixture
def id_tag(db) -> str:
    IdTag.objects.create(id_tag=TAG)
    return TAG


def db(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return sync_to_async(func)(*args, **kwargs)


async def eventually(check: Callable[[], Any], within: float = 15.0, what: str = "") -> Any:
    """Poll a (database) condition until it holds, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await db(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        await asyncio.sleep(0.05)


async def until(condition: Callable[[], bool], within: float = 15.0, what: str = "") -> None:
    """Wait for an in-memory condition of the simulator, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or condition}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(
    server: Any, charger_id: str, version: str, **options: Any
) -> AsyncIterator[SimulatedCharger]:
    """Run a simulated charger against the test server for the duration of the block."""
    options.setdefault("meter_interval", 0.2)
    options.setdefault("reconnect_min_s", 0.05)
    options.setdefault("reboot_s", 0.3)
    options.setdefault("response_timeout", 10)
    charger = SimulatedCharger(
        ChargerConfig(
            charger_id=charger_id, url=f"{server.ws_url}/ocpp/", version=version, **options
        )
    )
    task = asyncio.create_task(charger.run())
    try:
        yield charger
    finally:
        # Shown by pytest when the test fails: what the charger did.
        print(charger, charger.stats, *charger.events, sep="\n")
        charger.stop()
        try:
            async with asyncio.timeout(10):
                await task
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
