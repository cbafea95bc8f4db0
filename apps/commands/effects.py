"""Side effects of a charger's answer to a command, stored with the outcome.

Each effect is `effect(command, response)`; apps register theirs for the actions they own
(reservations, diagnostics, firmware) with `@on("Action")` at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apps.chargers import services as chargers
from apps.devicemodel import services as devicemodel

if TYPE_CHECKING:
    from apps.commands.models import ChargerCommand

Effect = Callable[["ChargerCommand", dict[str, Any]], None]
_EFFECTS: dict[str, list[Effect]] = {}


def on(action: str) -> Callable[[Effect], Effect]:
    def register(func: Effect) -> Effect:
        _EFFECTS.setdefault(action, []).append(func)
        return func

    return register


def apply(*, command: ChargerCommand, response: dict[str, Any]) -> None:
    for effect in _EFFECTS.get(command.action, []):
        effect(command, response)


@on("ChangeAvailability")
def _change_availability(command: ChargerCommand, response: dict[str, Any]) -> None:
    status = response["status"]
    if status not in ("Accepted", "Scheduled"):
        return
    payload = command.payload
    if "operationalStatus" in payload:  # OCPP 2.x: an EVSE, or the whole station
        connector_id = (payload.get("evse") or {}).get("id", 0)
        availability = payload["operationalStatus"]
    else:
        connector_id, availability = payload["connectorId"], payload["type"]
    chargers.connector_set_availability(
        station_id=command.station_id,
        connector_id=connector_id,
        availability=availability,
        scheduled=status == "Scheduled",
    )


@on("ChangeConfiguration")
def _change_configuration(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.configuration_key_changed(
        station_id=command.station_id,
        key=command.payload["key"],
        value=command.payload["value"],
        status=response["status"],
    )


@on("GetConfiguration")
def _get_configuration(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.configuration_store(
        station_id=command.station_id,
        keys=response.get("configurationKey", []),
        unknown=response.get("unknownKey", []),
    )


@on("GetLocalListVersion")
def _get_local_list_version(command: ChargerCommand, response: dict[str, Any]) -> None:
    # 1.6 says listVersion, 2.x versionNumber.
    version = response.get("listVersion", response.get("versionNumber"))
    chargers.station_set_local_list_version(station_id=command.station_id, version=version)


@on("SendLocalList")
def _send_local_list(command: ChargerCommand, response: dict[str, Any]) -> None:
    if response["status"] == "Accepted":
        payload = command.payload
        version = payload.get("listVersion", payload.get("versionNumber"))
        chargers.station_set_local_list_version(station_id=command.station_id, version=version)


@on("DataTransfer")
def _data_transfer(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.data_transfer_sent(
        station_id=command.station_id,
        vendor_id=command.payload["vendorId"],
        message_id=command.payload.get("messageId", ""),
        data=command.payload.get("data", ""),
        status=response["status"],
        response_data=response.get("data"),
    )


@on("GetVariables")
def _get_variables(command: ChargerCommand, response: dict[str, Any]) -> None:
    devicemodel.device_variables_from_get(
        station_id=command.station_id, results=response["getVariableResult"]
    )


@on("SetVariables")
def _set_variables(command: ChargerCommand, response: dict[str, Any]) -> None:
    devicemodel.device_variables_from_set(
        station_id=command.station_id,
        requested=command.payload["setVariableData"],
        results=response["setVariableResult"],
    )
