"""A test charger: the `ocpp` library's ChargePoint over a real websocket.

`V16Charger`, `V201Charger` and `V21Charger` answer every command of the CSMS. A test sets
`charger.replies[action]` to the CALLRESULT fields (snake_case, as the library takes them),
to a function of the received fields returning them, to an OCPPError instance to answer
with a CALLERROR, or to a number of seconds to stay silent; `charger.received[action]`
lists what the charger was sent.
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
from ocpp.v16 import call_result as v16_result
from ocpp.v21 import ChargePoint as V21ChargePoint
from ocpp.v21 import call_result as v21_result
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result as v201_result

V16_COMMANDS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"status": "Accepted"},
    "CertificateSigned": {"status": "Accepted"},
    "DeleteCertificate": {"status": "Accepted"},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "InstallCertificate": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "GetConfiguration": {"configuration_key": [], "unknown_key": []},
    "GetDiagnostics": {"file_name": "diagnostics.zip"},
    "GetLocalListVersion": {"list_version": 0},
    "GetLog": {"status": "Accepted", "filename": "log.tar.gz"},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "SignedUpdateFirmware": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
}


def _all_variables(status: str, key: str, result_key: str):
    """A reply answering each requested variable with `status` (the schema wants one each)."""

    def reply(fields: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in fields[key]:
            result = {
                "attribute_status": status,
                "component": item["component"],
                "variable": item["variable"],
            }
            if result_key == "get_variable_result" and status == "Accepted":
                result["attribute_value"] = "1"
            results.append(result)
        return {result_key: results}

    return reply


V2_COMMANDS: dict[str, Any] = {
    "CancelReservation": {"status": "Accepted"},
    "CertificateSigned": {"status": "Accepted"},
    "DeleteCertificate": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "InstallCertificate": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "CostUpdated": {},
    "DataTransfer": {"status": "Accepted"},
    "GetBaseReport": {"status": "Accepted"},
    "GetLocalListVersion": {"version_number": 0},
    "GetLog": {"status": "Accepted", "filename": "log.tar.gz"},
    "GetReport": {"status": "Accepted"},
    "GetTransactionStatus": {"messages_in_queue": False},
    "GetVariables": _all_variables("Accepted", "get_variable_data", "get_variable_result"),
    "RequestStartTransaction": {"status": "Accepted"},
    "RequestStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "SetVariables": _all_variables("Accepted", "set_variable_data", "set_variable_result"),
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {"status": "Accepted"},
}


# OCPP 2.1's own commands: the tariff messages.
V21_COMMANDS: dict[str, Any] = {
    **V2_COMMANDS,
    "ChangeTransactionTariff": {"status": "Accepted"},
    "ClearTariffs": {"clear_tariffs_result": [{"status": "NoTariff"}]},
    "GetTariffs": {"status": "NoTariff"},
    "SetDefaultTariff": {"status": "Accepted"},
}


def _answering(action: str, defaults: Any, results: Any):
    async def handler(self: Any, **fields: Any) -> Any:
        self.received[action].append(fields)
        reply = self.replies.get(action, defaults)
        if isinstance(reply, OCPPError):
            raise reply
        if isinstance(reply, int | float):
            await asyncio.sleep(reply)
            reply = defaults
        if callable(reply):
            reply = reply(fields)
        return getattr(results, action)(**reply)

    # The library routes by the function's name, so name it before registering it.
    handler.__name__ = f"on_{action}"
    return on(action)(handler)


class AnsweringCharger:
    """Mixin: the replies/received bookkeeping shared by the test chargers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.replies: dict[str, Any] = {}
        self.received: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        super().__init__(*args, **kwargs)


class V16Charger(AnsweringCharger, V16ChargePoint):
    """An OCPP 1.6 charge point that answers every central system command."""

    for _action, _defaults in V16_COMMANDS.items():
        locals()[f"on_{_action}"] = _answering(_action, _defaults, v16_result)
    del _action, _defaults


class V201Charger(AnsweringCharger, V201ChargePoint):
    """An OCPP 2.0.1 charging station that answers every CSMS command we send."""

    for _action, _defaults in V2_COMMANDS.items():
        locals()[f"on_{_action}"] = _answering(_action, _defaults, v201_result)
    del _action, _defaults


class V21Charger(AnsweringCharger, V21ChargePoint):
    """An OCPP 2.1 charging station that answers every CSMS command we send."""

    for _action, _defaults in V21_COMMANDS.items():
        locals()[f"on_{_action}"] = _answering(_action, _defaults, v21_result)
    del _action, _defaults


CHARGERS = {"ocpp1.6": V16Charger, "ocpp2.0.1": V201Charger, "ocpp2.1": V21Charger}


@contextlib.asynccontextmanager
async def connect_charger(
    ws_url: str, charger_id: str, version: str, path: str = "/ocpp/", **connect: Any
) -> AsyncIterator[Any]:
    """Connect a charger of `version` (a subprotocol) and run its message loop meanwhile.

    `connect`: more options of websockets.connect (`ssl`, `additional_headers`).
    """
    async with websockets.connect(
        f"{ws_url}{path}{charger_id}", subprotocols=[version], **connect
    ) as ws:
        charger = CHARGERS[version](charger_id, ws, response_timeout=10)
        task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


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
