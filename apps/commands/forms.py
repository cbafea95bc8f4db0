"""The admin form of an operation, and the raw-JSON fallback of every operation.

The forms of each operation live with its declaration (`<app>/operations.py`); they derive
from `OperationForm`, whose `submit` sends through the one command path: by default the
operation's registered sender, or a domain service of the owning app (reservations,
firmware, local list), which keeps its own records and sends the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.registry import run_operation
from apps.commands.services import send_command
from apps.core.timeutil import format_ocpp_datetime
from apps.protocol.versions import V16

SOURCE = "admin"
OCPP_INT_MAX = 2**31 - 1


def id_token_max_length(station: ChargingStation) -> int:
    """Return how long an id tag may be: 20 characters in OCPP 1.6, 36 in 2.x."""
    return 20 if station.protocol_version is V16 else 36


def datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def compact(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop optional fields left empty: OCPP wants them absent, not null."""
    return {key: value for key, value in payload.items() if value not in (None, "", [])}


def ocpp_time(value: datetime | None) -> str | None:
    return format_ocpp_datetime(value) if value is not None else None


def capitalize_labels(form: forms.Form) -> None:
    """Start each label with a capital, as the admin's own forms do ("Connector / EVSE")."""
    for field in form.fields.values():
        if field.label:
            field.label = capfirst(field.label)


class ConnectorField(forms.IntegerField):
    def __init__(self, *, min_value: int = 0, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=OCPP_INT_MAX, **kwargs)


def connector_choices(station: ChargingStation, *, empty: str | None = None) -> list[Any]:
    """Return the station's connectors as choices (1.6 connector / 2.x EVSE ids).

    `empty` first, with the value "", when given.
    """
    numbers = sorted(
        {n for n in station.connectors.values_list("connector_id", flat=True) if n and n > 0}
    )
    choices: list[Any] = [("", empty)] if empty is not None else []
    return choices + [(str(n), _("Connector %(number)d") % {"number": n}) for n in numbers]


def pick_connector(form: forms.Form, name: str, *, first: tuple[str, Any] | None = None) -> None:
    """Let the operator pick `name` among the station's connectors, once it has reported some.

    `first` is an extra choice before them ("0": the whole station, "": the station's
    choice). The field stays an integer field: the API and a station not yet reported keep
    any number. With one connector and no `first`, it is preselected.
    """
    station = form.station  # type: ignore[attr-defined]
    connectors = connector_choices(station)
    if not connectors:
        return
    field = form.fields[name]
    field.widget = forms.Select(choices=([first] if first else []) + connectors)
    if first is None and len(connectors) == 1:
        field.initial = connectors[0][0]


class OperationForm(forms.Form):
    """The fields of one operation for one station; `submit` sends it and returns the command.

    By default the cleaned fields, empty ones left out, are the keyword arguments of the
    operation's registered sender (`arguments`). `user`: the operator filling it in, so
    that pickers offer only what they may see (None: no operator, e.g. a script).
    """

    operation: ClassVar[str]

    def __init__(
        self, *args: Any, station: ChargingStation, user: Any = None, **kwargs: Any
    ) -> None:
        self.station = station
        self.user = user
        super().__init__(*args, **kwargs)
        capitalize_labels(self)

    def arguments(self) -> dict[str, Any]:
        """Return the sender's keyword arguments from the cleaned data."""
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", None)}

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        """Send the operation and return its command; raise a ValueError when it cannot be sent.

        CommandError and the domain apps' errors (ReservationError, ...) are ValueErrors.
        """
        return run_operation(
            station=self.station,
            operation=self.operation,
            arguments=self.arguments(),
            requested_by=requested_by,
            source=SOURCE,
        )


class RawPayloadForm(forms.Form):
    """Advanced: one of the operation's actions with any JSON object as its payload.

    Checked only against the OCPP schema; no domain record is kept.
    """

    action = forms.ChoiceField(label=_("action"))
    payload = forms.JSONField(
        label=_("payload (JSON)"),
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField"}),
        help_text=_("Sent as it is; it must satisfy the OCPP schema of the action."),
    )

    def __init__(
        self,
        *args: Any,
        station: ChargingStation,
        actions: tuple[str, ...],
        default: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.station = station
        self.default_action = default or actions[0]
        kwargs.setdefault("prefix", "raw")
        kwargs.setdefault("initial", {"action": self.default_action})
        super().__init__(*args, **kwargs)
        capitalize_labels(self)
        field = self.fields["action"]
        field.choices = [(action, action) for action in actions]
        field.required = False  # left out of the post: the default action
        if len(actions) == 1:
            field.widget = forms.HiddenInput()

    def clean_action(self) -> str:
        return self.cleaned_data["action"] or self.default_action

    def clean_payload(self) -> dict[str, Any]:
        payload = self.cleaned_data["payload"]
        if not isinstance(payload, dict):
            raise forms.ValidationError(_("The payload is a JSON object: {...}."))
        return payload

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        return send_command(
            station=self.station,
            action=self.cleaned_data["action"],
            payload=self.cleaned_data["payload"],
            requested_by=requested_by,
            source=SOURCE,
        )
