"""One operation to several stations at once: the station list's "Send a command" action.

The operator picks the operation and its parameters once; each station gets its own command
through the operation's own form and sender (the one command path), and a results page tells
each station's outcome (sent, accepted, rejected, timed out, offline), refreshing itself
until every station has answered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.chargers.tenancy import stations_visible_to
from apps.commands.forms import OperationForm
from apps.commands.models import FINAL_STATUSES, ChargerCommand
from apps.commands.registry import Operation, operation_named

# The operations whose parameters mean the same for every station (no station's own
# records to pick): offered for several stations at once, in this order.
BULK_OPERATIONS = (
    "reset",
    "change_availability",
    "unlock",
    "trigger_message",
    "clear_cache",
    "get_configuration",
    "set_configuration",
    "data_transfer",
)
# The prefix of the operation's fields in the action's form (clear of the admin's own names).
PREFIX = "op"
# Seconds the action waits, for all stations together, before showing the results page.
BULK_WAIT_S = 5.0
# How many commands one results page lists at most.
MAX_RESULTS = 200


def bulk_stations(queryset: QuerySet[ChargingStation]) -> QuerySet[ChargingStation]:
    """Return the stations an operator may command at once: the admin's own selection.

    The admin's selection is already narrowed to the operator's sites (the station list's
    queryset), and the command path refuses any other station.
    """
    return queryset


def visible_stations(user: Any) -> QuerySet[ChargingStation]:
    """Return the stations whose commands a results page may show `user` (their sites')."""
    return stations_visible_to(user)


def bulk_operations(stations: list[ChargingStation]) -> list[Operation]:
    """Return the operations offered for every one of `stations`."""
    found = []
    for name in BULK_OPERATIONS:
        operation = operation_named(name)
        if operation is None or operation.send is None:
            continue
        if all(operation.actions_for(station.protocol_version) for station in stations):
            found.append(operation)
    return found


class ChooseOperationForm(forms.Form):
    operation = forms.ChoiceField(label=_("Operation"))

    def __init__(self, *args: Any, operations: list[Operation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["operation"].choices = [(op.name, op.label) for op in operations]


@dataclass
class StationOutcome:
    station: ChargingStation
    command: ChargerCommand | None
    error: str = ""


def bulk_send(
    *,
    stations: list[ChargingStation],
    operation: Operation,
    data: Any,
    requested_by: Any,
    base_url: str,
) -> list[StationOutcome]:
    """Send `operation` with the posted `data` to each station through its own form.

    A station whose form rejects the data, or whose command cannot be sent, gets an error
    and no command; the others are sent all the same.
    """
    outcomes = []
    for station in stations:
        form: OperationForm = operation.form(
            data, station=station, user=requested_by, prefix=PREFIX
        )
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[name].label if name in form.fields else ''}: {' '.join(msgs)}"
                for name, msgs in form.errors.items()
            )
            outcomes.append(StationOutcome(station, None, errors))
            continue
        try:
            command = form.submit(requested_by=requested_by, base_url=base_url)
        except (ValidationError, ValueError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            outcomes.append(StationOutcome(station, None, message))
            continue
        outcomes.append(StationOutcome(station, command))
    return outcomes


def bulk_wait(commands: list[ChargerCommand], *, wait_s: float = BULK_WAIT_S) -> None:
    """Wait up to `wait_s` in all for connected stations' answers (no wait for the others)."""
    deadline = time.monotonic() + wait_s
    waiting = [c.pk for c in commands if c.status not in FINAL_STATUSES]
    while waiting and time.monotonic() < deadline:
        waiting = list(
            ChargerCommand.objects.filter(pk__in=waiting, station__is_connected=True)
            .exclude(status__in=FINAL_STATUSES)
            .values_list("pk", flat=True)
        )
        if waiting:
            time.sleep(0.1)


def bulk_results(ids: list[int], *, user: Any) -> list[ChargerCommand]:
    """Return the commands of a results page that `user` may see, in station order."""
    return list(
        ChargerCommand.objects.filter(pk__in=ids[:MAX_RESULTS], station__in=visible_stations(user))
        .select_related("station")
        .order_by("station__charger_id", "pk")
    )


def parse_ids(value: str) -> list[int]:
    """Return the command ids of a results page's query ("1,2,3"); bad parts are left out."""
    return [int(part) for part in value.split(",") if part.strip().isdigit()][:MAX_RESULTS]
