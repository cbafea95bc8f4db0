"""The station page's operation view: one form per operation, the raw JSON as a fallback.

Used by ChargingStationAdmin (apps/dashboard/station_admin.py). Operations come from the
registry (apps/commands/registry.py), each declared by the app that owns its data.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.answers import answer_summary, command_label
from apps.commands.forms import OperationForm, RawPayloadForm
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import (
    Operation,
    operation_for_action,
    operation_named,
    operations_for,
)


def command_outcome(command: ChargerCommand) -> tuple[int, str]:
    """Return the message level and text that tell an operator how a command went.

    In words: the operation's label, the station, the answer's status and a short summary;
    an answer that is a list (GetConfiguration...) is a table on the command's page.
    """
    details = answer_summary(command)
    texts = {
        CommandStatus.ACCEPTED: _("%(action)s accepted by %(station)s: %(details)s"),
        CommandStatus.REJECTED: _("%(action)s rejected by %(station)s: %(details)s"),
        CommandStatus.ERROR: _("%(action)s failed on %(station)s: %(details)s"),
        CommandStatus.TIMEOUT: _("%(action)s timed out on %(station)s: %(details)s"),
        CommandStatus.OFFLINE: _("%(action)s not sent, %(station)s is offline: %(details)s"),
        CommandStatus.PENDING: _(
            "%(action)s is queued for %(station)s; it is sent when the station connects."
        ),
        CommandStatus.SENT: _(
            "%(action)s sent to %(station)s, no answer yet; the command history shows it."
        ),
    }
    status = command.status
    if status == CommandStatus.PENDING and command.station.is_connected:
        status = CommandStatus.SENT  # on its way to a connected station, not waiting for one
    text = texts[status] % {
        "action": command_label(command),
        "station": _("station %(id)s") % {"id": command.station.charger_id},
        "details": details or "-",
    }
    level = {
        CommandStatus.ACCEPTED: messages.SUCCESS,
        CommandStatus.REJECTED: messages.WARNING,
        CommandStatus.PENDING: messages.INFO,
        CommandStatus.SENT: messages.INFO,
    }.get(command.status, messages.ERROR)
    return level, text


def operation_links(station: ChargingStation) -> list[tuple[str, str, str]]:
    """Return (help, label, url) of each operation offered to the station, once each, by label."""
    found = [
        (
            str(operation.help_text),
            str(operation.label),
            reverse("admin:chargers_chargingstation_command", args=[station.pk, operation.name]),
        )
        for operation in operations_for(station)
    ]
    return sorted(found, key=lambda link: link[1].casefold())


def resolve_operation(station: ChargingStation, name: str) -> tuple[Operation, str] | None:
    """Return the operation called `name` and the raw form's action, or None if not offered.

    An OCPP action name (a link from before operations, "GetBaseReport") stands for the
    operation that sends it to this station, its raw form preset to that action.
    """
    version = station.protocol_version
    operation = operation_named(name)
    if operation is not None:
        actions = operation.actions_for(version)
        return (operation, actions[0]) if actions else None
    operation = operation_for_action(version=version, action=name)
    return (operation, name) if operation is not None else None


class OperationPage:
    """The bound forms of one operation for one request: the operation's and the raw one."""

    def __init__(self, request: HttpRequest, station: ChargingStation, name: str) -> None:
        resolved = resolve_operation(station, name)
        if resolved is None:
            raise LookupError(name)
        self.operation, raw_action = resolved
        self.raw = request.method == "POST" and "_raw" in request.POST
        data = request.POST if request.method == "POST" else None
        self.form: OperationForm = self.operation.form(
            None if self.raw else data,
            station=station,
            user=request.user,
            initial=request.GET.dict(),
        )
        self.raw_form = RawPayloadForm(
            data if self.raw else None,
            station=station,
            actions=self.operation.actions_for(station.protocol_version),
            default=raw_action,
        )
        self.chosen: OperationForm | RawPayloadForm = self.raw_form if self.raw else self.form
        self.posted = data is not None

    def send(self, *, requested_by: Any, base_url: str) -> ChargerCommand | None:
        """Send what was posted; return the command, or None when a form shows errors."""
        if not self.posted or not self.chosen.is_valid():
            return None
        try:
            return self.chosen.submit(requested_by=requested_by, base_url=base_url)
        except (ValidationError, ValueError) as exc:  # CommandError and the apps' errors
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.chosen.add_error(None, message)
            return None
