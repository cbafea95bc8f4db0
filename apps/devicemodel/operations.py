"""Configuration operations: 1.6 configuration keys and 2.x device-model variables.

| operation | OCPP 1.6 | OCPP 2.0.1 / 2.1 |
| --- | --- | --- |
| set_configuration | ChangeConfiguration | SetVariables |
| get_configuration | GetConfiguration | GetVariables (named keys) or GetBaseReport |
| get_report | - | GetReport |

A 2.x configuration key is written `Component[instance]@evse.connector/Variable[instance]`
(only the names are required, e.g. `OCPPCommCtrlr/HeartbeatInterval`); the usual 1.6 key
names are translated (HeartbeatInterval → OCPPCommCtrlr/HeartbeatInterval, ...).
The answers are stored here: 1.6 keys through chargers' services, 2.x variables in the
device model.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from ocpp.v16 import enums

from apps.chargers import services as chargers
from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.forms import OperationForm
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.devicemodel import services as devicemodel
from apps.devicemodel.models import DeviceVariable
from apps.protocol.versions import V16

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

REPORT_CRITERIA = ("Active", "Available", "Enabled", "Problem")

_KEY = re.compile(
    r"^(?P<component>[^\[\]@/]+)(?:\[(?P<cinstance>[^\]]+)\])?"
    r"(?:@(?P<evse>\d+)(?:\.(?P<connector>\d+))?)?"
    r"/(?P<variable>[^\[\]/]+)(?:\[(?P<vinstance>[^\]]+)\])?$"
)


def _is_v16(station: ChargingStation) -> bool:
    return station.protocol_version is V16


def _request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


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


def set_configuration(
    *, station: ChargingStation, key: str, value: str, **options: Any
) -> ChargerCommand:
    """Set one configuration key (1.6) or variable (2.x)."""
    if _is_v16(station):
        action, payload = "ChangeConfiguration", {"key": key, "value": value}
    else:
        item = {**component_variable(key), "attributeValue": value}
        action, payload = "SetVariables", {"setVariableData": [item]}
    return send_command(station=station, action=action, payload=payload, **options)


def get_configuration(
    *, station: ChargingStation, keys: list[str] | None = None, **options: Any
) -> ChargerCommand:
    """Read configuration: the named keys, or everything the station reports."""
    if _is_v16(station):
        action, payload = "GetConfiguration", ({"key": keys} if keys else {})
    elif keys:
        data = [component_variable(key) for key in keys]
        action, payload = "GetVariables", {"getVariableData": data}
    else:
        payload = {"requestId": _request_id(), "reportBase": "ConfigurationInventory"}
        action = "GetBaseReport"
    return send_command(station=station, action=action, payload=payload, **options)


def get_report(
    *,
    station: ChargingStation,
    criteria: list[str] | None = None,
    components: list[str] | None = None,
    **options: Any,
) -> ChargerCommand:
    """Ask a 2.x station to report its components (all, or the named ones) by criteria."""
    payload: dict[str, Any] = {"requestId": _request_id()}
    if criteria:
        payload["componentCriteria"] = list(criteria)
    if components:
        payload["componentVariable"] = [
            component_variable(name) if "/" in name else {"component": {"name": name}}
            for name in components
        ]
    return send_command(station=station, action="GetReport", payload=payload, **options)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class SetConfigurationForm(OperationForm):
    operation = "set_configuration"

    key = forms.CharField(
        label=_("key"),
        max_length=200,
        widget=forms.TextInput(attrs={"list": "ocpp-configuration-keys"}),
        help_text=_("1.6: a configuration key. 2.x: Component/Variable, or a known 1.6 key name."),
    )
    value = forms.CharField(label=_("value"), max_length=1000, required=False, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _is_v16(self.station):
            known = set(self.station.configuration.values_list("key", flat=True))
            self.key_suggestions = sorted(known | {str(key) for key in enums.ConfigurationKey})
        else:
            variables = DeviceVariable.objects.filter(station=self.station, attribute_type="Actual")
            known = {variable.path for variable in variables}
            self.key_suggestions = sorted(known | set(V16_KEYS_IN_V2.values()))

    def arguments(self) -> dict[str, Any]:
        return {"key": self.cleaned_data["key"], "value": self.cleaned_data["value"]}


class GetConfigurationForm(OperationForm):
    operation = "get_configuration"

    keys = forms.CharField(
        label=_("keys"),
        required=False,
        widget=forms.Textarea({"rows": 4}),
        help_text=_("One key per line; leave empty to read every key."),
    )

    def clean_keys(self) -> list[str]:
        keys = _lines(self.cleaned_data["keys"])
        if _is_v16(self.station):
            too_long = [key for key in keys if len(key) > 50]
            if too_long:
                raise forms.ValidationError(
                    _("Keys are at most 50 characters: %(keys)s"),
                    params={"keys": ", ".join(too_long)},
                )
        return keys


class GetReportForm(OperationForm):
    operation = "get_report"

    criteria = forms.MultipleChoiceField(
        label=_("criteria"),
        required=False,
        choices=[(criterion, criterion) for criterion in REPORT_CRITERIA],
        widget=forms.CheckboxSelectMultiple,
    )
    components = forms.CharField(
        label=_("components"),
        required=False,
        widget=forms.Textarea({"rows": 4}),
        help_text=_("One Component or Component/Variable per line; leave empty for all."),
    )

    def clean_components(self) -> list[str]:
        return _lines(self.cleaned_data["components"])


def _configuration_changed(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.configuration_key_changed(
        station_id=command.station_id,
        key=command.payload["key"],
        value=command.payload["value"],
        status=response["status"],
    )


def _configuration_read(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.configuration_store(
        station_id=command.station_id,
        keys=response.get("configurationKey", []),
        unknown=response.get("unknownKey", []),
    )


def _variables_read(command: ChargerCommand, response: dict[str, Any]) -> None:
    devicemodel.device_variables_from_get(
        station_id=command.station_id, results=response["getVariableResult"]
    )


def _variables_set(command: ChargerCommand, response: dict[str, Any]) -> None:
    devicemodel.device_variables_from_set(
        station_id=command.station_id,
        requested=command.payload["setVariableData"],
        results=response["setVariableResult"],
    )


register(
    Operation(
        name="set_configuration",
        label=_("Set configuration"),
        help_text=_("Set one configuration key (1.6) or variable (2.x)."),
        actions=per_version(("ChangeConfiguration",), ("SetVariables",)),
        form=SetConfigurationForm,
        send=set_configuration,
        effects={"ChangeConfiguration": _configuration_changed, "SetVariables": _variables_set},
    )
)
register(
    Operation(
        name="get_configuration",
        label=_("Get configuration"),
        help_text=_("Read the named keys (one a line), or everything when empty."),
        actions=per_version(("GetConfiguration",), ("GetVariables", "GetBaseReport")),
        form=GetConfigurationForm,
        send=get_configuration,
        effects={"GetConfiguration": _configuration_read, "GetVariables": _variables_read},
    )
)
register(
    Operation(
        name="get_report",
        label=_("Get report"),
        help_text=_("Ask the station to report its components and variables (OCPP 2.x)."),
        actions=per_version((), ("GetReport",)),
        form=GetReportForm,
        send=get_report,
    )
)
