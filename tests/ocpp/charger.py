"""A test charger: the `ocpp` library's ChargePoint over a real websocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import websockets
from ocpp.v16 import ChargePoint as V16ChargePoint


class V16Charger(V16ChargePoint):
    """An OCPP 1.6 charge point; command handlers are added by the tests that need them."""


@contextlib.asynccontextmanager
async def connect_v16(
    ws_url: str, charger_id: str, path: str = "/ocpp/", subprotocols: tuple = ("ocpp1.6",)
) -> AsyncIterator[V16Charger]:
    """Connect a 1.6 charger and run its message loop for the duration of the block."""
    async with websockets.connect(
        f"{ws_url}{path}{charger_id}", subprotocols=list(subprotocols)
    ) as ws:
        charger = V16Charger(charger_id, ws, response_timeout=10)
        task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
