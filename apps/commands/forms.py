"""Forms for the OCPP 1.6 commands an operator sends from the admin.

Each form turns its fields into the OCPP payload and sends it through the one command path
(`send_command`), or calls the service of the domain app that owns the action (reservations,
firmware, diagnostics, local list), which keeps its own records and sends it the same way.
`RawPayloadForm` is the advanced way: any JSON object, sent as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _
from ocpp.v16 import enums

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.services import send_command
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.models import FirmwareFile
from apps.maintenance.services import diagnostics_request_send, firmware_update_send
from apps.reservations.models import Reservation
from apps.reservations.services import reservation_cancel, reservation_create
from apps.rfid.services import local_list_send

SOURCE = "admin"
OCPP_INT_MAX = 2**31 - 1

TRIGGERABLE_MESSAGES = [
    enums.MessageTrigger.boot_notification,
    enums.MessageTrigger.diagnostics_status_notification,
    enums.MessageTrigger.firmware_status_notification,
    enums.MessageTrigger.heartbeat,
    enums.MessageTrigger.meter_values,
    enums.MessageTrigger.status_notification,
]


def _choices(values: Any) -> list[tuple[str, str]]:
    return [(str(value), str(value)) for value in values]


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _compact(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop optional fields left empty: OCPP wants them absent, not null."""
    return {key: value for key, value in payload.items() if value not in (None, "", [])}


def _ocpp_time(value: datetime | None) -> str | None:
    return format_ocpp_datetime(value) if value is not None else None


class CommandForm(forms.Form):
    """The fields of one OCPP command; `submit` sends it and returns the stored command."""

    action: ClassVar[str]
    help_text: ClassVar[str] = ""

    def __init__(self, *args: Any, station: ChargingStation, **kwargs: Any) -> None:
        self.station = station
        super().__init__(*args, **kwargs)

    def payload(self) -> dict[str, Any]:
        """Return the OCPP request payload built from the cleaned data."""
        return {}

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        """Send the command and return it; raise a ValueError when it cannot be sent.

        CommandError and the domain apps' errors (ReservationError, ...) are ValueErrors.
        """
        return send_command(
            station=self.station,
            action=self.action,
            payload=self.payload(),
            requested_by=requested_by,
            source=SOURCE,
        )


class ConnectorField(forms.IntegerField):
    def __init__(self, *, min_value: int = 0, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=OCPP_INT_MAX, **kwargs)


class CancelReservationForm(CommandForm):
    action = "CancelReservation"
    help_text = _("Cancel a reservation the station holds.")

    reservation_id = forms.IntegerField(
        label=_("reservation id"), min_value=0, max_value=OCPP_INT_MAX
    )

    def payload(self) -> dict[str, Any]:
        return {"reservationId": self.cleaned_data["reservation_id"]}

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        reservation = Reservation.objects.filter(
            station=self.station, reservation_id=self.cleaned_data["reservation_id"]
        ).first()
        if reservation is None:
            # Not one of ours (made on the station or by a raw ReserveNow): cancel by its id.
            return super().submit(requested_by=requested_by, base_url=base_url)
        return reservation_cancel(reservation=reservation, requested_by=requested_by, source=SOURCE)


class ChangeAvailabilityForm(CommandForm):
    action = "ChangeAvailability"
    help_text = _("Make a connector (0: the whole station) operative or inoperative.")

    connector_id = ConnectorField(label=_("connector id"), initial=0)
    type = forms.ChoiceField(
        label=_("availability"),
        choices=_choices(enums.AvailabilityType),
        widget=forms.RadioSelect,
    )

    def payload(self) -> dict[str, Any]:
        return {"connectorId": self.cleaned_data["connector_id"], "type": self.cleaned_data["type"]}


class ChangeConfigurationForm(CommandForm):
    action = "ChangeConfiguration"
    help_text = _("Set one configuration key of the station.")

    key = forms.CharField(
        label=_("key"),
        max_length=50,
        widget=forms.TextInput(attrs={"list": "ocpp-configuration-keys"}),
        help_text=_("A standard OCPP 1.6 key or one the station reported."),
    )
    value = forms.CharField(label=_("value"), max_length=500, required=False, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = set(self.station.configuration.values_list("key", flat=True))
        self.key_suggestions = sorted(known | {str(key) for key in enums.ConfigurationKey})

    def payload(self) -> dict[str, Any]:
        return {"key": self.cleaned_data["key"], "value": self.cleaned_data["value"]}


class ClearCacheForm(CommandForm):
    action = "ClearCache"
    help_text = _("Clear the station's authorization cache.")


class DataTransferForm(CommandForm):
    action = "DataTransfer"
    help_text = _("Send vendor-specific data to the station.")

    vendor_id = forms.CharField(label=_("vendor id"), max_length=255)
    message_id = forms.CharField(label=_("message id"), max_length=50, required=False)
    data = forms.CharField(
        label=_("data"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def payload(self) -> dict[str, Any]:
        return _compact(
            {
                "vendorId": self.cleaned_data["vendor_id"],
                "messageId": self.cleaned_data["message_id"],
                "data": self.cleaned_data["data"],
            }
        )


class GetConfigurationForm(CommandForm):
    action = "GetConfiguration"
    help_text = _("Read configuration keys; the answer is stored with the station.")

    keys = forms.CharField(
        label=_("keys"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One key per line; leave empty to read every key."),
    )

    def clean_keys(self) -> list[str]:
        keys = [line.strip() for line in self.cleaned_data["keys"].splitlines() if line.strip()]
        too_long = [key for key in keys if len(key) > 50]
        if too_long:
            raise forms.ValidationError(
                _("Keys are at most 50 characters: %(keys)s"), params={"keys": ", ".join(too_long)}
            )
        return keys

    def payload(self) -> dict[str, Any]:
        return _compact({"key": self.cleaned_data["keys"]})


class RetryFieldsMixin(forms.Form):
    retries = forms.IntegerField(
        label=_("retries"), min_value=0, max_value=OCPP_INT_MAX, required=False
    )
    retry_interval = forms.IntegerField(
        label=_("retry interval (s)"), min_value=0, max_value=OCPP_INT_MAX, required=False
    )


class GetDiagnosticsForm(RetryFieldsMixin, CommandForm):
    action = "GetDiagnostics"
    help_text = _("Ask the station to upload its diagnostics file.")

    location = forms.URLField(
        label=_("upload location"),
        required=False,
        max_length=512,
        assume_scheme="https",
        help_text=_("Leave empty to have the station upload to this server."),
    )
    start_time = forms.DateTimeField(label=_("from"), required=False, widget=_datetime_input())
    stop_time = forms.DateTimeField(label=_("until"), required=False, widget=_datetime_input())
    field_order = ["location", "start_time", "stop_time", "retries", "retry_interval"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, stop = data.get("start_time"), data.get("stop_time")
        if start and stop and stop < start:
            self.add_error("stop_time", _("The end is before the start."))
        return data

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return _compact(
            {
                "location": data["location"],
                "startTime": _ocpp_time(data["start_time"]),
                "stopTime": _ocpp_time(data["stop_time"]),
                "retries": data["retries"],
                "retryInterval": data["retry_interval"],
            }
        )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        data = self.cleaned_data
        if data["location"]:
            return super().submit(requested_by=requested_by, base_url=base_url)
        return diagnostics_request_send(
            station=self.station,
            base_url=base_url,
            start_time=data["start_time"],
            stop_time=data["stop_time"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            requested_by=requested_by,
            source=SOURCE,
        )


class GetLocalListVersionForm(CommandForm):
    action = "GetLocalListVersion"
    help_text = _("Read the version of the station's local authorization list.")


class RemoteStartTransactionForm(CommandForm):
    action = "RemoteStartTransaction"
    help_text = _("Start a charging session for an id tag.")

    id_tag = forms.CharField(label=_("id tag"), max_length=20)
    connector_id = ConnectorField(
        label=_("connector id"),
        min_value=1,
        required=False,
        help_text=_("Leave empty to let the station choose."),
    )
    charging_profile = forms.JSONField(
        label=_("charging profile"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Optional TxProfile as OCPP JSON (chargingProfile)."),
    )

    def clean_charging_profile(self) -> dict[str, Any] | None:
        profile = self.cleaned_data["charging_profile"]
        if profile is not None and not isinstance(profile, dict):
            raise forms.ValidationError(_("A charging profile is a JSON object."))
        return profile

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return _compact(
            {
                "connectorId": data["connector_id"],
                "idTag": data["id_tag"],
                "chargingProfile": data["charging_profile"],
            }
        )


class RemoteStopTransactionForm(CommandForm):
    action = "RemoteStopTransaction"
    help_text = _("Stop a running transaction.")

    transaction_id = forms.IntegerField(
        label=_("transaction id"), min_value=0, max_value=OCPP_INT_MAX
    )

    def payload(self) -> dict[str, Any]:
        return {"transactionId": self.cleaned_data["transaction_id"]}


class ReserveNowForm(CommandForm):
    action = "ReserveNow"
    help_text = _("Reserve a connector (0: any connector) for an id tag.")

    connector_id = ConnectorField(
        label=_("connector id"),
        required=False,
        help_text=_("0 reserves any connector; leave empty to take a free one."),
    )
    id_tag = forms.CharField(label=_("id tag"), max_length=20)
    expiry_date = forms.DateTimeField(label=_("expires at"), widget=_datetime_input())
    parent_id_tag = forms.CharField(label=_("parent id tag"), max_length=20, required=False)

    def clean_expiry_date(self) -> datetime:
        value = self.cleaned_data["expiry_date"]
        if value <= utcnow():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return value

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        """Reserve through the reservations app, which assigns the reservation id."""
        data = self.cleaned_data
        reservation = reservation_create(
            station=self.station,
            id_tag=data["id_tag"],
            expires_at=data["expiry_date"],
            connector_id=data["connector_id"],
            parent_id_tag=data["parent_id_tag"],
            requested_by=requested_by,
            source=SOURCE,
        )
        return reservation.command


class ResetForm(CommandForm):
    action = "Reset"
    help_text = _("Restart the station: Soft stops transactions first, Hard reboots at once.")

    type = forms.ChoiceField(
        label=_("type"), choices=_choices(enums.ResetType), widget=forms.RadioSelect
    )

    def payload(self) -> dict[str, Any]:
        return {"type": self.cleaned_data["type"]}


class SendLocalListForm(CommandForm):
    action = "SendLocalList"
    help_text = _("Send the id tags marked 'in local authorization list' to the station.")

    update_type = forms.ChoiceField(
        label=_("update type"),
        choices=_choices(enums.UpdateType),
        initial=enums.UpdateType.full,
        widget=forms.RadioSelect,
    )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        """Send through the rfid app, which builds the list and its version."""
        return local_list_send(
            station=self.station,
            update_type=self.cleaned_data["update_type"],
            requested_by=requested_by,
            source=SOURCE,
        )


class TriggerMessageForm(CommandForm):
    action = "TriggerMessage"
    help_text = _("Ask the station to send a message now.")

    requested_message = forms.ChoiceField(
        label=_("message"), choices=_choices(TRIGGERABLE_MESSAGES)
    )
    connector_id = ConnectorField(
        label=_("connector id"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for the station as a whole."),
    )

    def payload(self) -> dict[str, Any]:
        return _compact(
            {
                "requestedMessage": self.cleaned_data["requested_message"],
                "connectorId": self.cleaned_data["connector_id"],
            }
        )


class UnlockConnectorForm(CommandForm):
    action = "UnlockConnector"
    help_text = _("Unlock a connector's cable.")

    connector_id = ConnectorField(label=_("connector id"), min_value=1, initial=1)

    def payload(self) -> dict[str, Any]:
        return {"connectorId": self.cleaned_data["connector_id"]}


class UpdateFirmwareForm(RetryFieldsMixin, CommandForm):
    action = "UpdateFirmware"
    help_text = _("Make the station download and install a firmware image.")

    firmware = forms.ModelChoiceField(
        label=_("firmware"),
        queryset=FirmwareFile.objects.all(),
        required=False,
        help_text=_("An image stored on this server, served to the station by a signed link."),
    )
    location = forms.URLField(
        label=_("firmware location"),
        required=False,
        max_length=512,
        assume_scheme="https",
        help_text=_("Or the URL of an image stored elsewhere."),
    )
    retrieve_date = forms.DateTimeField(
        label=_("retrieve at"),
        required=False,
        widget=_datetime_input(),
        help_text=_("Leave empty for now."),
    )
    field_order = ["firmware", "location", "retrieve_date", "retries", "retry_interval"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and bool(data.get("firmware")) == bool(data.get("location")):
            raise forms.ValidationError(_("Choose a stored firmware or give a location."))
        return data

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return _compact(
            {
                "location": data["location"],
                "retrieveDate": _ocpp_time(data["retrieve_date"] or utcnow()),
                "retries": data["retries"],
                "retryInterval": data["retry_interval"],
            }
        )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        data = self.cleaned_data
        if not data["firmware"]:
            return super().submit(requested_by=requested_by, base_url=base_url)
        return firmware_update_send(
            station=self.station,
            firmware=data["firmware"],
            base_url=base_url,
            retrieve_at=data["retrieve_date"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            requested_by=requested_by,
            source=SOURCE,
        )


class RawPayloadForm(forms.Form):
    """Advanced: any JSON object as the payload, checked only against the OCPP schema."""

    payload = forms.JSONField(
        label=_("payload (JSON)"),
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField"}),
        help_text=_("Sent as it is; it must satisfy the OCPP schema of the action."),
    )

    def __init__(self, *args: Any, station: ChargingStation, action: str, **kwargs: Any) -> None:
        self.station = station
        self.action = action
        kwargs.setdefault("prefix", "raw")
        super().__init__(*args, **kwargs)

    def clean_payload(self) -> dict[str, Any]:
        payload = self.cleaned_data["payload"]
        if not isinstance(payload, dict):
            raise forms.ValidationError(_("The payload is a JSON object: {...}."))
        return payload

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        return send_command(
            station=self.station,
            action=self.action,
            payload=self.cleaned_data["payload"],
            requested_by=requested_by,
            source=SOURCE,
        )


COMMAND_FORMS: dict[str, type[CommandForm]] = {
    form.action: form
    for form in (
        CancelReservationForm,
        ChangeAvailabilityForm,
        ChangeConfigurationForm,
        ClearCacheForm,
        DataTransferForm,
        GetConfigurationForm,
        GetDiagnosticsForm,
        GetLocalListVersionForm,
        RemoteStartTransactionForm,
        RemoteStopTransactionForm,
        ReserveNowForm,
        ResetForm,
        SendLocalListForm,
        TriggerMessageForm,
        UnlockConnectorForm,
        UpdateFirmwareForm,
    )
}
