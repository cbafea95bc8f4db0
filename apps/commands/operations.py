"""The station's own operations: reset, availability, unlock, trigger, cache, data transfer.

Their data (connectors, data transfers) belongs to the chargers app, but chargers sits below
commands (every command row belongs to a station) and cannot import it: so these operations
are declared here, and their answer effects call chargers' services.

| operation | OCPP 1.6 | OCPP 2.0.1 / 2.1 |
| --- | --- | --- |
| reset | Reset Soft / Hard | Reset OnIdle / Immediate |
| change_availability | ChangeAvailability (connector) | ChangeAvailability (EVSE) |
| unlock | UnlockConnector (connector) | UnlockConnector (EVSE + connector) |
| trigger_message | TriggerMessage (connector) | TriggerMessage (EVSE) |
| extended_trigger_message | ExtendedTriggerMessage (security extension) | — |
| clear_cache | ClearCache | ClearCache |
| data_transfer | DataTransfer | DataTransfer |
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.chargers import services as chargers
from apps.chargers.models import ChargingStation
from apps.commands.forms import ConnectorField, OperationForm, compact, pick_connector
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.protocol.versions import V16

TRIGGERABLE_16 = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)
# The 1.6 security extension's ExtendedTriggerMessage: logs and certificates besides.
EXTENDED_TRIGGERABLE_16 = (
    "BootNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
)
TRIGGERABLE_2X = (
    "BootNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "StatusNotification",
    "TransactionEvent",
)


def _is_v16(station: ChargingStation) -> bool:
    return station.protocol_version is V16


def reset(*, station: ChargingStation, hard: bool = False, **options: Any) -> ChargerCommand:
    """Restart the station: soft (when idle) or hard (at once)."""
    if _is_v16(station):
        payload = {"type": "Hard" if hard else "Soft"}
    else:
        payload = {"type": "Immediate" if hard else "OnIdle"}
    return send_command(station=station, action="Reset", payload=payload, **options)


def change_availability(
    *, station: ChargingStation, connector_id: int, operative: bool, **options: Any
) -> ChargerCommand:
    """Make a connector/EVSE (0: the whole station) operative or inoperative."""
    state = "Operative" if operative else "Inoperative"
    if _is_v16(station):
        payload: dict[str, Any] = {"connectorId": connector_id, "type": state}
    else:
        payload = {"operationalStatus": state}
        if connector_id:
            payload["evse"] = {"id": connector_id}
    return send_command(station=station, action="ChangeAvailability", payload=payload, **options)


def unlock(*, station: ChargingStation, connector_id: int, **options: Any) -> ChargerCommand:
    """Unlock a connector (1.6 connector id; 2.x EVSE id, its connector as last reported)."""
    if _is_v16(station):
        payload = {"connectorId": connector_id}
    else:
        connector = station.connectors.filter(connector_id=connector_id).first()
        evse_connector = (connector.evse_connector_id if connector else None) or 1
        payload = {"evseId": connector_id, "connectorId": evse_connector}
    return send_command(station=station, action="UnlockConnector", payload=payload, **options)


def trigger_message(
    *, station: ChargingStation, message: str, connector_id: int | None = None, **options: Any
) -> ChargerCommand:
    """Ask the station to send `message` now (for a connector/EVSE, or the station)."""
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        if _is_v16(station):
            payload["connectorId"] = connector_id
        else:
            payload["evse"] = {"id": connector_id}
    return send_command(station=station, action="TriggerMessage", payload=payload, **options)


def extended_trigger_message(
    *, station: ChargingStation, message: str, connector_id: int | None = None, **options: Any
) -> ChargerCommand:
    """Ask a 1.6 station to send `message` now (1.6 security extension's trigger)."""
    payload: dict[str, Any] = {"requestedMessage": message}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    return send_command(
        station=station, action="ExtendedTriggerMessage", payload=payload, **options
    )


def clear_cache(*, station: ChargingStation, **options: Any) -> ChargerCommand:
    """Clear the station's authorization cache."""
    return send_command(station=station, action="ClearCache", payload={}, **options)


def data_transfer(
    *,
    station: ChargingStation,
    vendor_id: str,
    message_id: str = "",
    data: str = "",
    **options: Any,
) -> ChargerCommand:
    """Send vendor-specific data to the station."""
    payload = compact({"vendorId": vendor_id, "messageId": message_id, "data": data})
    return send_command(station=station, action="DataTransfer", payload=payload, **options)


class ResetForm(OperationForm):
    operation = "reset"

    hard = forms.TypedChoiceField(
        label=_("when"),
        choices=[("0", _("When idle (Soft / OnIdle)")), ("1", _("At once (Hard / Immediate)"))],
        coerce=lambda value: value == "1",
        initial="0",
        widget=forms.RadioSelect,
    )


class ChangeAvailabilityForm(OperationForm):
    operation = "change_availability"

    connector_id = ConnectorField(label=_("connector / EVSE (0: station)"), initial=0)
    operative = forms.TypedChoiceField(
        label=_("state"),
        choices=[("1", _("Operative")), ("0", _("Inoperative"))],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pick_connector(self, "connector_id", first=("0", _("The whole station")))


class UnlockForm(OperationForm):
    operation = "unlock"

    connector_id = ConnectorField(label=_("connector / EVSE"), min_value=1, initial=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pick_connector(self, "connector_id")


class TriggerMessageForm(OperationForm):
    operation = "trigger_message"

    message = forms.ChoiceField(label=_("message"))
    connector_id = ConnectorField(
        label=_("connector / EVSE"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for the station as a whole."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        messages = TRIGGERABLE_16 if _is_v16(self.station) else TRIGGERABLE_2X
        self.fields["message"].choices = [(message, message) for message in messages]
        pick_connector(self, "connector_id", first=("", _("The station as a whole")))


class ExtendedTriggerMessageForm(OperationForm):
    operation = "extended_trigger_message"

    message = forms.ChoiceField(
        label=_("message"), choices=[(message, message) for message in EXTENDED_TRIGGERABLE_16]
    )
    connector_id = ConnectorField(
        label=_("connector"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for the station as a whole."),
    )


class ClearCacheForm(OperationForm):
    operation = "clear_cache"


class DataTransferForm(OperationForm):
    operation = "data_transfer"

    vendor_id = forms.CharField(label=_("vendor id"), max_length=255)
    message_id = forms.CharField(label=_("message id"), max_length=50, required=False)
    data = forms.CharField(
        label=_("data"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


def _change_availability_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
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


def _data_transfer_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    chargers.data_transfer_sent(
        station_id=command.station_id,
        vendor_id=command.payload["vendorId"],
        message_id=command.payload.get("messageId", ""),
        data=command.payload.get("data", ""),
        status=response["status"],
        response_data=response.get("data"),
    )


register(
    Operation(
        name="reset",
        label=_("Reset"),
        help_text=_(
            "Restart the station: when idle (Soft / OnIdle) or at once (Hard / Immediate)."
        ),
        actions=per_version(("Reset",), ("Reset",)),
        form=ResetForm,
        send=reset,
    )
)
register(
    Operation(
        name="change_availability",
        label=_("Change availability"),
        help_text=_("Make a connector / EVSE, or the whole station (0), operative or not."),
        actions=per_version(("ChangeAvailability",), ("ChangeAvailability",)),
        form=ChangeAvailabilityForm,
        send=change_availability,
        effects={"ChangeAvailability": _change_availability_answered},
    )
)
register(
    Operation(
        name="unlock",
        label=_("Unlock connector"),
        help_text=_("Unlock the cable of a connector / EVSE."),
        actions=per_version(("UnlockConnector",), ("UnlockConnector",)),
        form=UnlockForm,
        send=unlock,
    )
)
register(
    Operation(
        name="trigger_message",
        label=_("Trigger message"),
        help_text=_("Ask the station to send a message now."),
        actions=per_version(("TriggerMessage",), ("TriggerMessage",)),
        form=TriggerMessageForm,
        send=trigger_message,
    )
)
register(
    Operation(
        name="extended_trigger_message",
        label=_("Extended trigger message"),
        help_text=_(
            "Ask the station to send a message now, certificate signing requests and logs "
            "included (OCPP 1.6 security extension)."
        ),
        actions=per_version(("ExtendedTriggerMessage",), ()),
        form=ExtendedTriggerMessageForm,
        send=extended_trigger_message,
    )
)
register(
    Operation(
        name="clear_cache",
        label=_("Clear cache"),
        help_text=_("Clear the station's authorization cache."),
        actions=per_version(("ClearCache",), ("ClearCache",)),
        form=ClearCacheForm,
        send=clear_cache,
    )
)
register(
    Operation(
        name="data_transfer",
        label=_("Data transfer"),
        help_text=_("Send vendor-specific data to the station."),
        actions=per_version(("DataTransfer",), ("DataTransfer",)),
        form=DataTransferForm,
        send=data_transfer,
        effects={"DataTransfer": _data_transfer_answered},
    )
)
