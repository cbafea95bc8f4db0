"""Local authorization list operations: send the list, read its version (1.6 and 2.x).

The list is built by `local_list_send` from the id tags marked in_local_list; the station's
acceptance records its version (on the station) and the LocalListEntry snapshot.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.chargers import services as chargers
from apps.chargers.models import ChargingStation
from apps.commands.forms import SOURCE, OperationForm
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.rfid.services import local_list_send, local_list_store_accepted


def get_local_list_version(*, station: ChargingStation, **options: Any) -> ChargerCommand:
    """Ask the station which version of the local list it holds."""
    return send_command(station=station, action="GetLocalListVersion", payload={}, **options)


class SendLocalListForm(OperationForm):
    operation = "send_local_list"

    update_type = forms.ChoiceField(
        label=_("update type"),
        choices=[("Full", "Full"), ("Differential", "Differential")],
        initial="Full",
        widget=forms.RadioSelect,
    )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        """Send through local_list_send, which builds the list and its version."""
        return local_list_send(
            station=self.station,
            update_type=self.cleaned_data["update_type"],
            requested_by=requested_by,
            source=SOURCE,
        )


class GetLocalListVersionForm(OperationForm):
    operation = "get_local_list_version"


def _list_version_read(command: ChargerCommand, response: dict[str, Any]) -> None:
    # 1.6 says listVersion, 2.x versionNumber.
    version = response.get("listVersion", response.get("versionNumber"))
    chargers.station_set_local_list_version(station_id=command.station_id, version=version)


def _local_list_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    if response["status"] != "Accepted":
        return
    payload = command.payload
    version = payload.get("listVersion", payload.get("versionNumber"))
    chargers.station_set_local_list_version(station_id=command.station_id, version=version)
    local_list_store_accepted(command=command)


register(
    Operation(
        name="send_local_list",
        label=_("Send local list"),
        help_text=_("Send the id tags marked 'in local authorization list' to the station."),
        actions=per_version(("SendLocalList",), ("SendLocalList",)),
        form=SendLocalListForm,
        effects={"SendLocalList": _local_list_answered},
    )
)
register(
    Operation(
        name="get_local_list_version",
        label=_("Get local list version"),
        help_text=_("Read the version of the station's local authorization list."),
        actions=per_version(("GetLocalListVersion",), ("GetLocalListVersion",)),
        form=GetLocalListVersionForm,
        send=get_local_list_version,
        effects={"GetLocalListVersion": _list_version_read},
    )
)
