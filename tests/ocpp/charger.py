"""A test charger: the `ocpp` library's ChargePoint over a real websocket.

`V16Charger` answers every OCPP 1.6 command of the central system. A test sets
`charger.replies[action]` to the CALLRESULT fields (snake_case, as the library takes them),
to an OCPPError instance to answer with a CALLERROR, or to a number of seconds to stay silent;
`charger.received[action]` lists what the charger was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call_result

V16_COMMANDS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "GetConfiguration": {"configuration_key": [], "unknown_key": []},
    "GetDiagnostics": {"file_name": "diagnostics.zip"},
    "GetLocalListVersion": {"list_version": 0},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
}


def _answering(action: str):
    async def handler(self: V16Charger, **fields: Any) -> Any:
        self.received[action].append(fields)
        reply = self.replies.get(action, V16_COMMANDS[action])
        if isinstance(reply, OCPPError):
            raise reply
        if isinstance(reply, int | float):
            await asyncio.sleep(reply)
            reply = V16_COMMANDS[action]
        return getattr(call_result, action)(**reply)

    # The library routes by the function's name, so name it before registering it.
    handler.__name__ = f"on_{action}"
    return on(action)(handler)


class V16Charger(V16ChargePoint):
    """An OCPP 1.6 charge point that answers every central system command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.replies: dict[str, Any] = {}
        self.received: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        super().__init__(*args, **kwargs)

    for _action in V16_COMMANDS:
        locals()[f"on_{_action}"] = _answering(_action)
    del _action


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
