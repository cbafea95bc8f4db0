"""Admin forms of the version-neutral operations (apps/commands/operations.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.commands.forms import SOURCE, CommandForm, ConnectorField
from apps.commands.models import ChargerCommand
from apps.commands.operations import run_operation


class OperationForm(CommandForm):
    """A form whose fields are the keyword arguments of one operation."""

    operation: ClassVar[str]

    def arguments(self) -> dict[str, Any]:
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", None)}

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        return run_operation(
            station=self.station,
            operation=self.operation,
            arguments=self.arguments(),
            requested_by=requested_by,
            source=SOURCE,
        )


class RemoteStartForm(OperationForm):
    operation = action = "remote_start"
    help_text = _("Start charging for an id tag (RemoteStart / RequestStartTransaction).")

    id_tag = forms.CharField(label=_("id tag"), max_length=36)
    connector_id = ConnectorField(
        label=_("connector / EVSE"),
        min_value=1,
        required=False,
        help_text=_("Empty: the station chooses."),
    )


class RemoteStopForm(OperationForm):
    operation = action = "remote_stop"
    help_text = _("Stop a running transaction (RemoteStop / RequestStopTransaction).")

    transaction_id = forms.CharField(label=_("transaction id"), max_length=36)


class ChangeAvailabilityOperationForm(OperationForm):
    operation = action = "change_availability"
    help_text = _("Make a connector / EVSE, or the whole station (0), operative or not.")

    connector_id = ConnectorField(label=_("connector / EVSE (0: station)"))
    operative = forms.TypedChoiceField(
        label=_("state"),
        choices=[("1", _("Operative")), ("0", _("Inoperative"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )


class ResetOperationForm(OperationForm):
    operation = action = "reset"
    help_text = _("Restart the station: when idle (Soft / OnIdle) or at once (Hard / Immediate).")

    hard = forms.TypedChoiceField(
        label=_("when"),
        choices=[("0", _("When idle")), ("1", _("At once"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )


class UnlockForm(OperationForm):
    operation = action = "unlock"
    help_text = _("Unlock the cable of a connector / EVSE.")

    connector_id = ConnectorField(label=_("connector / EVSE"), min_value=1)


class SetConfigurationForm(OperationForm):
    operation = action = "set_configuration"
    help_text = _("1.6: a configuration key. 2.x: Component/Variable, or a known 1.6 key name.")

    key = forms.CharField(label=_("key"), max_length=200)
    value = forms.CharField(label=_("value"), max_length=1000, required=False)

    def arguments(self) -> dict[str, Any]:
        return {"key": self.cleaned_data["key"], "value": self.cleaned_data["value"]}


class GetConfigurationOperationForm(OperationForm):
    operation = action = "get_configuration"
    help_text = _("Read the named keys (one a line), or everything when empty.")

    keys = forms.CharField(label=_("keys"), required=False, widget=forms.Textarea({"rows": 4}))

    def arguments(self) -> dict[str, Any]:
        keys = [line.strip() for line in self.cleaned_data["keys"].splitlines() if line.strip()]
        return {"keys": keys} if keys else {}


OPERATION_FORMS: dict[str, type[OperationForm]] = {
    form.operation: form
    for form in (
        RemoteStartForm,
        RemoteStopForm,
        ChangeAvailabilityOperationForm,
        ResetOperationForm,
        UnlockForm,
        SetConfigurationForm,
        GetConfigurationOperationForm,
    )
}
