"""Maintenance operations: firmware updates and diagnostics / log uploads (1.6 and 2.x).

| operation | OCPP 1.6 | OCPP 2.0.1 / 2.1 |
| --- | --- | --- |
| update_firmware | UpdateFirmware, SignedUpdateFirmware | UpdateFirmware (firmware, requestId) |
| get_logs | GetDiagnostics, GetLog | GetLog (log type, requestId) |

On 1.6, a signed image goes as the security extension's SignedUpdateFirmware; a SecurityLog,
or diagnostics when the operator asks for GetLog, as the extension's GetLog. A 2.x
UpdateFirmware of a signed image carries its signature and signing certificate.

With a stored image or no upload location, the maintenance services send them and keep a
FirmwareUpdate / DiagnosticsRequest; with a location elsewhere the command is sent as it is.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.commands.forms import (
    OCPP_INT_MAX,
    SOURCE,
    OperationForm,
    compact,
    datetime_input,
    ocpp_time,
)
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.core.timeutil import utcnow
from apps.maintenance.diagnostics import (
    LOG_TYPES,
    LOG_TYPES_16,
    diagnostics_answer_store,
    log_action,
    log_answer_store,
    log_request_send,
)
from apps.maintenance.models import FirmwareFile
from apps.maintenance.services import firmware_update_send
from apps.protocol.versions import V16


def _request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


class RetryFieldsMixin(forms.Form):
    retries = forms.IntegerField(
        label=_("retries"), min_value=0, max_value=OCPP_INT_MAX, required=False
    )
    retry_interval = forms.IntegerField(
        label=_("retry interval (s)"), min_value=0, max_value=OCPP_INT_MAX, required=False
    )


class UpdateFirmwareForm(RetryFieldsMixin, OperationForm):
    operation = "update_firmware"

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
        widget=datetime_input(),
        help_text=_("Leave empty for now."),
    )
    install_date = forms.DateTimeField(
        label=_("install at"),
        required=False,
        widget=datetime_input(),
        help_text=_(
            "Optional; sent with a stored image to OCPP 2.x stations and with signed "
            "firmware to OCPP 1.6 stations (SignedUpdateFirmware)."
        ),
    )
    field_order = [
        "firmware",
        "location",
        "retrieve_date",
        "install_date",
        "retries",
        "retry_interval",
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and bool(data.get("firmware")) == bool(data.get("location")):
            raise forms.ValidationError(_("Choose a stored firmware or give a location."))
        return data

    def payload(self) -> dict[str, Any]:
        """Return the UpdateFirmware of an image elsewhere, as the station's version spells it."""
        data = self.cleaned_data
        retrieve = ocpp_time(data["retrieve_date"] or utcnow())
        retry = {"retries": data["retries"], "retryInterval": data["retry_interval"]}
        if self.station.protocol_version is V16:
            return compact({"location": data["location"], "retrieveDate": retrieve, **retry})
        firmware = {"location": data["location"], "retrieveDateTime": retrieve}
        return compact({"requestId": _request_id(), "firmware": firmware, **retry})

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        data = self.cleaned_data
        if not data["firmware"]:
            return send_command(
                station=self.station,
                action="UpdateFirmware",
                payload=self.payload(),
                requested_by=requested_by,
                source=SOURCE,
            )
        return firmware_update_send(
            station=self.station,
            firmware=data["firmware"],
            base_url=base_url,
            retrieve_at=data["retrieve_date"],
            install_at=data["install_date"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            requested_by=requested_by,
            source=SOURCE,
        )


class GetLogsForm(RetryFieldsMixin, OperationForm):
    operation = "get_logs"

    log_type = forms.ChoiceField(
        label=_("log"),
        choices=[(kind, kind) for kind in LOG_TYPES],
        initial=LOG_TYPES[0],
        required=False,  # DiagnosticsLog when left out
    )
    location = forms.URLField(
        label=_("upload location"),
        required=False,
        max_length=512,
        assume_scheme="https",
        help_text=_("Leave empty to have the station upload to this server."),
    )
    start_time = forms.DateTimeField(label=_("from"), required=False, widget=datetime_input())
    stop_time = forms.DateTimeField(label=_("until"), required=False, widget=datetime_input())
    get_log = forms.BooleanField(
        label=_("use GetLog (security extension)"),
        required=False,
        help_text=_(
            "OCPP 1.6: ask for diagnostics with the security extension's GetLog instead of "
            "GetDiagnostics. A SecurityLog is always asked for with GetLog."
        ),
    )
    field_order = [
        "log_type",
        "get_log",
        "location",
        "start_time",
        "stop_time",
        "retries",
        "retry_interval",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.station.protocol_version is V16:
            # 1.6 has diagnostics, and with the security extension a security log.
            self.fields["log_type"].choices = [(kind, kind) for kind in LOG_TYPES_16]
        else:
            del self.fields["get_log"]

    def action(self) -> str:
        data = self.cleaned_data
        return log_action(
            station=self.station, log_type=data["log_type"], get_log=data.get("get_log", False)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, stop = data.get("start_time"), data.get("stop_time")
        if start and stop and stop < start:
            self.add_error("stop_time", _("The end is before the start."))
        data["log_type"] = data.get("log_type") or LOG_TYPES[0]
        return data

    def payload(self) -> dict[str, Any]:
        """Return the request for an upload elsewhere, as the station's version spells it."""
        data = self.cleaned_data
        retry = {"retries": data["retries"], "retryInterval": data["retry_interval"]}
        start, stop = ocpp_time(data["start_time"]), ocpp_time(data["stop_time"])
        if self.action() == "GetDiagnostics":
            return compact(
                {"location": data["location"], "startTime": start, "stopTime": stop, **retry}
            )
        log = compact(
            {"remoteLocation": data["location"], "oldestTimestamp": start, "latestTimestamp": stop}
        )
        return compact(
            {"logType": data["log_type"], "requestId": _request_id(), "log": log, **retry}
        )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        data = self.cleaned_data
        if data["location"]:
            return send_command(
                station=self.station,
                action=self.action(),
                payload=self.payload(),
                requested_by=requested_by,
                source=SOURCE,
            )
        return log_request_send(
            station=self.station,
            base_url=base_url,
            log_type=data["log_type"],
            oldest=data["start_time"],
            latest=data["stop_time"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            get_log=data.get("get_log", False),
            requested_by=requested_by,
            source=SOURCE,
        )


def _diagnostics_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    diagnostics_answer_store(command=command, file_name=response.get("fileName"))


def _log_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    log_answer_store(command=command, status=response["status"], file_name=response.get("filename"))


register(
    Operation(
        name="update_firmware",
        label=_("Update firmware"),
        help_text=_("Make the station download and install a firmware image."),
        actions=per_version(("UpdateFirmware", "SignedUpdateFirmware"), ("UpdateFirmware",)),
        form=UpdateFirmwareForm,
    )
)
register(
    Operation(
        name="get_logs",
        label=_("Get diagnostics / logs"),
        help_text=_("Ask the station to upload its diagnostics or a log."),
        actions=per_version(("GetDiagnostics", "GetLog"), ("GetLog",)),
        form=GetLogsForm,
        effects={"GetDiagnostics": _diagnostics_answered, "GetLog": _log_answered},
    )
)
