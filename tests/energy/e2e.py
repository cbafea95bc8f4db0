"""What the energy end-to-end tests share: OCPP times, database calls from async tests, waiting."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from asgiref.sync import sync_to_async


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def wait_for(check, within: float = 15.0):
    """Return check()'s value once it is true (checked in a thread); fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await db(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within}s: {check.__doc__ or check}")
        await asyncio.sleep(0.02)
