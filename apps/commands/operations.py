"""Version-neutral operations: one call, the right action and payload for the station's OCPP.

| operation | OCPP 1.6 | OCPP 2.0.1 / 2.1 |
| --- | --- | --- |
| remote_start | RemoteStartTransaction | RequestStartTransaction (remoteStartId kept) |
| remote_stop | RemoteStopTransaction | RequestStopTransaction |
| change_availability | ChangeAvailability (connector) | ChangeAvailability (EVSE) |
| reset | Reset Soft / Hard | Reset OnIdle / Immediate |
| unlock | UnlockConnector (connector) | UnlockConnector (EVSE + connector) |
| set_configuration | ChangeConfiguration | SetVariables |
| get_configuration | GetConfiguration | GetVariables (named keys) or GetBaseReport |

A 2.x configuration key is written `Component[instance]@evse.connector/Variable[instance]`
(only the names are required, e.g. `OCPPCommCtrlr/HeartbeatInterval`); the usual 1.6 key
names are translated (HeartbeatInterval → OCPPCommCtrlr/HeartbeatInterval, ...).
"""

from __future__ import annotations

import inspect
import re
import secrets
from typing import Any

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.services import CommandError, send_command
from apps.protocol.versions import V16
from apps.rfid.models import IdTag

# Well-known OCPP 1.6 keys and the 2.x component/variable that means the same.
V16_KEYS_IN_V2 = {
    "AuthorizationKey": "SecurityCtrlr/BasicAuthPassword",
    "AuthorizeRemoteTxRequests": "AuthCtrlr/AuthorizeRemoteStart",
    "ConnectionTimeOut": "TxCtrlr/EVConnectionTimeOut",
    "HeartbeatInterval": "OCPPCommCtrlr/HeartbeatInterval",
    "LocalAuthListEnabled": "LocalAuthListCtrlr/Enabled",
    "LocalPreAuthorize": "AuthCtrlr/LocalPreAuthorize",
    "MeterValueSampleInterval": "SampledDataCtrlr/TxUpdatedInterval",
    "MeterValuesSampledData": "SampledDataCtrlr/TxUpdatedMeasurands",
    "ResetRetries": "OCPPCommCtrlr/ResetRetries",
    "TransactionMessageAttempts": "OCPPCommCtrlr/MessageAttempts",
    "TransactionMessageRetryInterval": "OCPPCommCtrlr/MessageAttemptInterval",
    "WebSocketPingInterval": "OCPPCommCtrlr/WebSocketPingInterval",
}

_KEY = re.compile(
    r"^(?P<component>[^\[\]@/]+)(?:\[(?P<cinstance>[^\]]+)\])?"
    r"(?:@(?P<evse>\d+)(?:\.(?P<connector>\d+))?)?"
    r"/(?P<variable>[^\[\]/]+)(?:\[(?P<vinstance>[^\]]+)\])?$"
)

OPERATIONS = (
    "remote_start",
    "remote_stop",
    "change_availability",
    "reset",
    "unlock",
    "set_configuration",
    "get_configuration",
)


def _is_v16(station: ChargingStation) -> bool:
    return station.protocol_version is V16


def component_variable(key: str) -> dict[str, Any]:
    """Parse a 2.x configuration key into {"component": ..., "variable": ...}."""
    match = _KEY.match(V16_KEYS_IN_V2.get(key, key))
    if match is None:
        raise CommandError(
            f"'{key}' is not a 2.x configuration key: write Component/Variable, "
            "e.g. OCPPCommCtrlr/HeartbeatInterval"
        )
    component: dict[str, Any] = {"name": match["component"]}
    if match["cinstance"]:
        component["instance"] = match["cinstance"]
    if match["evse"]:
        component["evse"] = {"id": int(match["evse"])}
        if match["connector"]:
            component["evse"]["connectorId"] = int(match["connector"])
    variable: dict[str, Any] = {"name": match["variable"]}
    if match["vinstance"]:
        variable["instance"] = match["vinstance"]
    return {"component": component, "variable": variable}


def _send(station: ChargingStation, action: str, payload: dict, **options: Any) -> ChargerCommand:
    return send_command(station=station, action=action, payload=payload, **options)


def remote_start(
    *, station: ChargingStation, id_tag: str, connector_id: int | None = None, **options: Any
) -> ChargerCommand:
    """Ask the station to start charging for `id_tag` (on a connector/EVSE, or its choice)."""
    if _is_v16(station):
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        return _send(station, "RemoteStartTransaction", payload, **options)
    tag = IdTag.objects.filter(id_tag=id_tag).first()
    payload = {
        "idToken": {"idToken": id_tag, "type": tag.token_type if tag else "Central"},
        # Echoed in the TransactionEvent that starts the session: it links the two.
        "remoteStartId": secrets.randbelow(2**31 - 1) + 1,
    }
    if connector_id is not None:
        payload["evseId"] = connector_id
    return _send(station, "RequestStartTransaction", payload, **options)


def remote_stop(*, station: ChargingStation, transaction_id: str, **options: Any) -> ChargerCommand:
    """Ask the station to stop one of its transactions."""
    if _is_v16(station):
        try:
            number = int(transaction_id)
        except ValueError as exc:
            raise CommandError("OCPP 1.6 transaction ids are numbers") from exc
        return _send(station, "RemoteStopTransaction", {"transactionId": number}, **options)
    return _send(station, "RequestStopTransaction", {"transactionId": transaction_id}, **options)


def change_availability(
    *, station: ChargingStation, connector_id: int, operative: bool, **options: Any
) -> ChargerCommand:
    """Make a connector/EVSE (0: the whole station) operative or inoperative."""
    state = "Operative" if operative else "Inoperative"
    if _is_v16(station):
        payload: dict[str, Any] = {"connectorId": connector_id, "type": state}
        return _send(station, "ChangeAvailability", payload, **options)
    payload = {"operationalStatus": state}
    if connector_id:
        payload["evse"] = {"id": connector_id}
    return _send(station, "ChangeAvailability", payload, **options)


def reset(*, station: ChargingStation, hard: bool = False, **options: Any) -> ChargerCommand:
    """Restart the station: soft (when idle) or hard (at once)."""
    if _is_v16(station):
        return _send(station, "Reset", {"type": "Hard" if hard else "Soft"}, **options)
    return _send(station, "Reset", {"type": "Immediate" if hard else "OnIdle"}, **options)


def unlock(*, station: ChargingStation, connector_id: int, **options: Any) -> ChargerCommand:
    """Unlock a connector (1.6 connector id; 2.x EVSE id, its connector as last reported)."""
    if _is_v16(station):
        return _send(station, "UnlockConnector", {"connectorId": connector_id}, **options)
    connector = station.connectors.filter(connector_id=connector_id).first()
    evse_connector = (connector.evse_connector_id if connector else None) or 1
    payload = {"evseId": connector_id, "connectorId": evse_connector}
    return _send(station, "UnlockConnector", payload, **options)


def set_configuration(
    *, station: ChargingStation, key: str, value: str, **options: Any
) -> ChargerCommand:
    """Set one configuration key (1.6) or variable (2.x)."""
    if _is_v16(station):
        return _send(station, "ChangeConfiguration", {"key": key, "value": value}, **options)
    item = {**component_variable(key), "attributeValue": value}
    return _send(station, "SetVariables", {"setVariableData": [item]}, **options)


def get_configuration(
    *, station: ChargingStation, keys: list[str] | None = None, **options: Any
) -> ChargerCommand:
    """Read configuration: the named keys, or everything the station reports."""
    if _is_v16(station):
        payload: dict[str, Any] = {"key": keys} if keys else {}
        return _send(station, "GetConfiguration", payload, **options)
    if keys:
        data = [component_variable(key) for key in keys]
        return _send(station, "GetVariables", {"getVariableData": data}, **options)
    request_id = secrets.randbelow(2**31 - 1) + 1
    payload = {"requestId": request_id, "reportBase": "ConfigurationInventory"}
    return _send(station, "GetBaseReport", payload, **options)


def run_operation(
    *, station: ChargingStation, operation: str, arguments: dict[str, Any], **options: Any
) -> ChargerCommand:
    """Run an operation by name with keyword arguments (API, CLI, admin forms)."""
    if operation not in OPERATIONS:
        raise CommandError(f"unknown operation '{operation}'; one of: {', '.join(OPERATIONS)}")
    function = globals()[operation]
    parameters = inspect.signature(function).parameters
    accepted = {
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "station"
    }
    unknown = sorted(set(arguments) - accepted)
    missing = sorted(
        name
        for name in accepted
        if parameters[name].default is inspect.Parameter.empty and name not in arguments
    )
    if unknown or missing:
        raise CommandError(
            f"{operation} takes {', '.join(sorted(accepted)) or 'no arguments'}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    return function(station=station, **arguments, **options)
