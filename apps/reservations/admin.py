from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.admin_views import SendThroughServiceAdmin
from apps.commands.models import CommandStatus
from apps.commands.services import command_wait
from apps.core.timeutil import utcnow
from apps.reservations.models import Reservation
from apps.reservations.services import ReservationError, reservation_cancel, reservation_create


def _in_half_an_hour() -> Any:
    return utcnow() + timedelta(minutes=30)


class ReservationAddForm(forms.Form):
    station = forms.ModelChoiceField(label=_("station"), queryset=ChargingStation.objects.all())
    connector_id = forms.IntegerField(
        label=_("connector id"),
        required=False,
        min_value=0,
        help_text=_(
            "Blank: the first connector reported Available without a reservation. "
            "0: any connector (if the station supports it). OCPP 2.x: the EVSE id."
        ),
    )
    # 36: an OCPP 2.x idToken; a 1.6 station refuses more than 20 (the schema check says so).
    id_tag = forms.CharField(label=_("id tag"), max_length=36)
    parent_id_tag = forms.CharField(
        label=_("parent id tag"),
        max_length=36,
        required=False,
        help_text=_("Blank: the stored tag's parent, if any."),
    )
    expires_at = forms.SplitDateTimeField(
        label=_("expires at"), widget=AdminSplitDateTime, initial=_in_half_an_hour
    )


@admin.register(Reservation)
class ReservationAdmin(SendThroughServiceAdmin):
    add_form_class = ReservationAddForm
    add_title = _("Reserve a connector")
    send_errors = (ReservationError,)
    list_display = [
        "reservation_id",
        "station",
        "connector",
        "id_tag",
        "status",
        "expires_at",
        "command_status",
        "transaction",
        "created_at",
    ]
    list_filter = ["status", "station", "expires_at", "created_at"]
    list_select_related = ["station", "connector", "command", "transaction"]
    search_fields = ["=reservation_id", "id_tag", "parent_id_tag", "station__charger_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "station",
        "connector",
        "reservation_id",
        "id_tag",
        "parent_id_tag",
        "expires_at",
        "status",
        "command",
        "cancel_command",
        "transaction",
        "requested_by",
        "created_at",
    ]
    actions = ["cancel_selected"]
    # Seconds the add view waits for a connected station's answer before showing the result.
    command_wait_s = 5.0

    @admin.display(description=_("ReserveNow"), ordering="command__status")
    def command_status(self, obj: Reservation) -> str:
        return obj.command.status if obj.command else "-"

    def send(self, request: HttpRequest, data: dict[str, Any]) -> Reservation:
        """Reserve through reservation_create (it sends ReserveNow); never a bare row."""
        return reservation_create(
            station=data["station"],
            connector_id=data["connector_id"],
            id_tag=data["id_tag"],
            parent_id_tag=data["parent_id_tag"],
            expires_at=data["expires_at"],
            requested_by=request.user,
            source="admin",
        )

    def sent(self, request: HttpRequest, result: Reservation) -> HttpResponse:
        """Wait a little for the station's answer, tell it, and show the reservation."""
        self.log_addition(request, result, [{"added": {}}])
        command = command_wait(command=result.command, wait_s=self.command_wait_s)
        result.refresh_from_db()
        level = messages.ERROR if command.status == CommandStatus.OFFLINE else messages.INFO
        self.message_user(
            request,
            _("Reservation %(id)s is %(status)s (ReserveNow: %(command)s). %(detail)s")
            % {
                "id": result.reservation_id,
                "status": result.status,
                "command": command.status,
                "detail": command.error_description,
            },
            level,
        )
        return redirect(reverse("admin:reservations_reservation_change", args=[result.pk]))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows change only through services (the station's answers, cancel, expiry, use).
        return False

    @admin.action(description=_("Cancel selected reservations"), permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> None:
        sent, refused = 0, []
        for reservation in queryset.select_related("station"):
            try:
                command = reservation_cancel(
                    reservation=reservation, requested_by=request.user, source="admin"
                )
            except ReservationError as exc:
                refused.append(str(exc))
                continue
            if command.status == CommandStatus.OFFLINE:
                refused.append(
                    _("reservation %(id)s: %(station)s is offline")
                    % {"id": reservation.reservation_id, "station": reservation.station}
                )
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                _(
                    "CancelReservation sent for %(n)d reservation(s); each becomes cancelled "
                    "when its station accepts."
                )
                % {"n": sent},
                messages.SUCCESS,
            )
        for text in refused:
            self.message_user(request, text, messages.WARNING)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
