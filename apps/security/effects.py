"""A rotated password takes over once the station accepts it."""

from __future__ import annotations

from typing import Any

from apps.commands.effects import on
from apps.commands.models import ChargerCommand
from apps.security.services import PASSWORD_KEY_16, station_password_promote

ACCEPTED = ("Accepted", "RebootRequired")


@on("ChangeConfiguration")
def _authorization_key(command: ChargerCommand, response: dict[str, Any]) -> None:
    if command.payload.get("key") == PASSWORD_KEY_16 and response["status"] in ACCEPTED:
        station_password_promote(station_id=command.station_id)


@on("SetVariables")
def _basic_auth_password(command: ChargerCommand, response: dict[str, Any]) -> None:
    for result in response.get("setVariableResult", []):
        if (
            result["component"]["name"] == "SecurityCtrlr"
            and result["variable"]["name"] == "BasicAuthPassword"
            and result["attributeStatus"] in ACCEPTED
        ):
            station_password_promote(station_id=command.station_id)
