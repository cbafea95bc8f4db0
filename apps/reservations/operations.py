"""Reservation operations: reserve a connector / EVSE, cancel a reservation (1.6 and 2.x).

Both go through the reservations' services, which keep the Reservation row; the station's
answer settles it (the effects below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from apps.commands.forms import (
    OCPP_INT_MAX,
    SOURCE,
    ConnectorField,
    OperationForm,
    datetime_input,
    id_token_max_length,
)
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.core.timeutil import utcnow
from apps.reservations.models import Reservation
from apps.reservations.services import (
    reservation_cancel,
    reservation_cancel_answered,
    reservation_create,
    reservation_reserve_answered,
)


class ReserveNowForm(OperationForm):
    operation = "reserve_now"

    connector_id = ConnectorField(
        label=_("connector / EVSE"),
        required=False,
        help_text=_("0 reserves any connector; leave empty to take a free one."),
    )
    id_tag = forms.CharField(label=_("id tag"), max_length=36)
    expiry_date = forms.DateTimeField(label=_("expires at"), widget=datetime_input())
    parent_id_tag = forms.CharField(label=_("parent id tag"), max_length=36, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        longest = id_token_max_length(self.station)
        for name in ("id_tag", "parent_id_tag"):
            self.fields[name].max_length = longest
            self.fields[name].validators = [MaxLengthValidator(longest)]
            self.fields[name].widget.attrs["maxlength"] = str(longest)

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


class CancelReservationForm(OperationForm):
    operation = "cancel_reservation"

    reservation_id = forms.IntegerField(
        label=_("reservation id"), min_value=0, max_value=OCPP_INT_MAX
    )

    def submit(self, *, requested_by: Any, base_url: str) -> ChargerCommand:
        reservation_id = self.cleaned_data["reservation_id"]
        reservation = Reservation.objects.filter(
            station=self.station, reservation_id=reservation_id
        ).first()
        if reservation is None:
            # Not one of ours (made on the station or by a raw ReserveNow): cancel by its id.
            return send_command(
                station=self.station,
                action="CancelReservation",
                payload={"reservationId": reservation_id},
                requested_by=requested_by,
                source=SOURCE,
            )
        return reservation_cancel(reservation=reservation, requested_by=requested_by, source=SOURCE)


def _reserve_now_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    reservation_reserve_answered(command=command, answer=response["status"])


def _cancel_reservation_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    reservation_cancel_answered(command=command, answer=response["status"])


register(
    Operation(
        name="reserve_now",
        label=_("Reserve now"),
        help_text=_("Reserve a connector / EVSE (0: any) for an id tag until a given time."),
        actions=per_version(("ReserveNow",), ("ReserveNow",)),
        form=ReserveNowForm,
        effects={"ReserveNow": _reserve_now_answered},
    )
)
register(
    Operation(
        name="cancel_reservation",
        label=_("Cancel reservation"),
        help_text=_("Cancel a reservation the station holds."),
        actions=per_version(("CancelReservation",), ("CancelReservation",)),
        form=CancelReservationForm,
        effects={"CancelReservation": _cancel_reservation_answered},
    )
)
