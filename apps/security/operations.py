"""Password rotation: a new Basic password sent to the station, in force once it accepts.

It sends set_configuration's actions (1.6 AuthorizationKey, 2.x SecurityCtrlr/
BasicAuthPassword) for a purpose of its own, so it is not their primary operation; its
effects promote the pending password when the station accepts it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.commands.forms import SOURCE, OperationForm
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.security.services import (
    PASSWORD_KEY_2X,
    PASSWORD_KEY_16,
    station_password_promote,
    station_password_rotate,
)

ACCEPTED = ("Accepted", "RebootRequired")


class RotatePasswordForm(OperationForm):
    operation = "rotate_password"

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        return station_password_rotate(
            station=self.station, requested_by=requested_by, source=SOURCE
        )


def _authorization_key_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    if command.payload.get("key") == PASSWORD_KEY_16 and response["status"] in ACCEPTED:
        station_password_promote(station_id=command.station_id)


def _basic_auth_password_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    component, variable = PASSWORD_KEY_2X.split("/")
    for result in response.get("setVariableResult", []):
        if (
            result["component"]["name"] == component
            and result["variable"]["name"] == variable
            and result["attributeStatus"] in ACCEPTED
        ):
            station_password_promote(station_id=command.station_id)


register(
    Operation(
        name="rotate_password",
        label=_("Rotate password"),
        help_text=_("Send the station a new password; it takes over when the station accepts it."),
        actions=per_version(("ChangeConfiguration",), ("SetVariables",)),
        form=RotatePasswordForm,
        send=station_password_rotate,
        effects={
            "ChangeConfiguration": _authorization_key_answered,
            "SetVariables": _basic_auth_password_answered,
        },
        primary=False,
    )
)
