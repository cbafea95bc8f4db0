"""Side effects of a charger's answer to a command, stored with the outcome.

Each effect is `effect(command, response)`; apps register theirs for the actions they own
(reservations, diagnostics, firmware) with `@on("Action")` at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apps.chargers import services as chargers

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
    if status in ("Accepted", "Scheduled"):
        chargers.connector_set_availability(
            station_id=command.station_id,
            connector_id=command.payload["connectorId"],
            availability=command.payload["type"],
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
    chargers.station_set_local_list_version(
        station_id=command.station_id, version=response["listVersion"]
    )


@on("SendLocalList")
def _send_local_list(command: ChargerCommand, response: dict[str, Any]) -> None:
    if response["status"] == "Accepted":
        chargers.station_set_local_list_version(
            station_id=command.station_id, version=command.payload["listVersion"]
        )


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
