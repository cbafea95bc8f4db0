"""Charging-session operations: start and stop a session remotely, ask about one (2.x).

| operation | OCPP 1.6 | OCPP 2.0.1 / 2.1 |
| --- | --- | --- |
| remote_start | RemoteStartTransaction | RequestStartTransaction (remoteStartId kept) |
| remote_stop | RemoteStopTransaction | RequestStopTransaction |
| get_transaction_status | - | GetTransactionStatus |
| cost_updated | - | CostUpdated (the running cost shown to the driver) |
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.chargers.tenancy import filter_by_site
from apps.commands.errors import CommandError
from apps.commands.forms import (
    ConnectorField,
    OperationForm,
    connector_choices,
    id_token_max_length,
)
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, per_version, register
from apps.commands.services import send_command
from apps.protocol.versions import V16
from apps.rfid.models import AuthorizationStatus, IdTag
from apps.transactions.models import Transaction


def _is_v16(station: ChargingStation) -> bool:
    return station.protocol_version is V16


def remote_start(
    *,
    station: ChargingStation,
    id_tag: str,
    connector_id: int | None = None,
    charging_profile: dict[str, Any] | None = None,
    **options: Any,
) -> ChargerCommand:
    """Ask the station to start charging for `id_tag` (on a connector/EVSE, or its choice)."""
    if _is_v16(station):
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        action = "RemoteStartTransaction"
    else:
        tag = IdTag.objects.filter(id_tag=id_tag).first()
        payload = {
            "idToken": {"idToken": id_tag, "type": tag.token_type if tag else "Central"},
            # Echoed in the TransactionEvent that starts the session: it links the two.
            "remoteStartId": secrets.randbelow(2**31 - 1) + 1,
        }
        if connector_id is not None:
            payload["evseId"] = connector_id
        action = "RequestStartTransaction"
    if charging_profile is not None:
        payload["chargingProfile"] = charging_profile
    return send_command(station=station, action=action, payload=payload, **options)


def remote_stop(*, station: ChargingStation, transaction_id: str, **options: Any) -> ChargerCommand:
    """Ask the station to stop one of its transactions."""
    if _is_v16(station):
        try:
            number = int(transaction_id)
        except ValueError as exc:
            raise CommandError("OCPP 1.6 transaction ids are numbers") from exc
        payload: dict[str, Any] = {"transactionId": number}
        return send_command(
            station=station, action="RemoteStopTransaction", payload=payload, **options
        )
    payload = {"transactionId": transaction_id}
    return send_command(
        station=station, action="RequestStopTransaction", payload=payload, **options
    )


def transaction_request_stop(
    *, transaction: Transaction, requested_by: Any = None, source: str = "admin"
) -> ChargerCommand:
    """Ask the session's station to stop it: the Stop button of lists and the dashboard.

    Sends remote_stop (RemoteStop / RequestStopTransaction) through the command service;
    the session ends when the station reports it stopped. A stopped session is an error.
    """
    if transaction.stopped_at is not None:
        raise CommandError(
            _("Session %(id)s has already stopped.") % {"id": transaction.transaction_id}
        )
    return remote_stop(
        station=transaction.station,
        transaction_id=transaction.transaction_id,
        requested_by=requested_by,
        source=source,
    )


def get_transaction_status(
    *, station: ChargingStation, transaction_id: str | None = None, **options: Any
) -> ChargerCommand:
    """Ask a 2.x station about a transaction, or whether it has messages still to send."""
    payload = {"transactionId": transaction_id} if transaction_id else {}
    return send_command(station=station, action="GetTransactionStatus", payload=payload, **options)


def cost_updated(
    *, station: ChargingStation, transaction_id: str, total_cost: Decimal, **options: Any
) -> ChargerCommand:
    """Tell a 2.x station a session's running cost, VAT included (OCPP 2.0.1 I02)."""
    payload = {"transactionId": transaction_id, "totalCost": float(total_cost)}
    return send_command(station=station, action="CostUpdated", payload=payload, **options)


# How many accepted id tags the remote start form offers to pick from.
ID_TAG_CHOICES = 500


def pickable_id_tags(*, user: Any = None) -> list[str]:
    """Return the accepted id tags an operator may pick: those of their sites (a card's site
    says who manages it, docs/sites.md); every accepted tag when there is no operator."""
    tags = IdTag.objects.filter(status=AuthorizationStatus.ACCEPTED)
    if user is not None:
        tags = filter_by_site(tags, user)
    return list(tags.order_by("id_tag").values_list("id_tag", flat=True)[:ID_TAG_CHOICES])


class IdTagPicker(forms.TextInput):
    """A text input with id tags to pick from (an HTML datalist): `tags`, set by the form."""

    tags: list[str] = []

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> str:
        attrs = {**(attrs or {})}
        list_id = f"{attrs.get('id') or 'id_' + name}-choices"
        attrs["list"] = list_id
        options = format_html_join("", '<option value="{}">', ((tag,) for tag in self.tags))
        return format_html(
            '{}<datalist id="{}">{}</datalist>',
            super().render(name, value, attrs, renderer),
            list_id,
            options,
        )


class RemoteStartForm(OperationForm):
    operation = "remote_start"

    id_tag = forms.CharField(
        label=_("id tag"),
        max_length=36,
        widget=IdTagPicker,
        help_text=_("Pick one of the accepted id tags, or type one."),
    )
    connector_id = ConnectorField(
        label=_("connector / EVSE"),
        min_value=1,
        required=False,
        help_text=_("Empty: the station chooses."),
    )
    charging_profile = forms.JSONField(
        label=_("charging profile"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Optional TxProfile as OCPP JSON (chargingProfile)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        longest = id_token_max_length(self.station)
        self.fields["id_tag"].max_length = longest
        self.fields["id_tag"].validators = [MaxLengthValidator(longest)]
        self.fields["id_tag"].widget.attrs["maxlength"] = str(longest)
        self.fields["id_tag"].widget.tags = pickable_id_tags(user=self.user)
        choices = connector_choices(self.station, empty=_("The station chooses"))
        if len(choices) > 1:
            self.fields["connector_id"].widget = forms.Select(choices=choices)
            if len(choices) == 2:  # one connector: it is the one
                self.fields["connector_id"].initial = choices[1][0]

    def clean_charging_profile(self) -> dict[str, Any] | None:
        profile = self.cleaned_data["charging_profile"]
        if profile is not None and not isinstance(profile, dict):
            raise forms.ValidationError(_("A charging profile is a JSON object."))
        return profile


def active_transaction_choices(station: ChargingStation) -> list[tuple[str, str]]:
    """Return the station's running sessions as (transaction id, what an operator reads)."""
    running = (
        Transaction.objects.filter(station=station, stopped_at__isnull=True)
        .select_related("connector")
        .order_by("-started_at")
    )
    return [
        (
            tx.transaction_id,
            _("%(id)s · connector %(connector)s · %(tag)s · since %(started)s")
            % {
                "id": tx.transaction_id,
                "connector": tx.connector.connector_id if tx.connector else "-",
                "tag": tx.id_tag or "-",
                "started": tx.started_at.strftime("%Y-%m-%d %H:%M"),
            },
        )
        for tx in running
    ]


class RemoteStopForm(OperationForm):
    operation = "remote_stop"

    transaction_id = forms.ChoiceField(
        label=_("session"), help_text=_("The station's running sessions.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = active_transaction_choices(self.station)
        self.fields["transaction_id"].choices = choices
        if not choices:
            self.fields["transaction_id"].help_text = _("No session is running on this station.")
        elif len(choices) == 1:
            self.fields["transaction_id"].initial = choices[0][0]

    def clean_transaction_id(self) -> str:
        value = self.cleaned_data["transaction_id"]
        if _is_v16(self.station) and not value.isdigit():
            raise forms.ValidationError(_("OCPP 1.6 transaction ids are numbers."))
        return value


class GetTransactionStatusForm(OperationForm):
    operation = "get_transaction_status"

    transaction_id = forms.CharField(
        label=_("transaction id"),
        max_length=36,
        required=False,
        help_text=_("Leave empty to ask whether the station has messages still to send."),
    )


class CostUpdatedForm(OperationForm):
    operation = "cost_updated"

    transaction_id = forms.CharField(label=_("transaction id"), max_length=36)
    total_cost = forms.DecimalField(
        label=_("running cost"),
        min_value=0,
        max_digits=12,
        decimal_places=4,
        help_text=_("VAT included, in the station's currency."),
    )


register(
    Operation(
        name="remote_start",
        label=_("Remote start"),
        help_text=_("Start charging for an id tag (RemoteStart / RequestStartTransaction)."),
        actions=per_version(("RemoteStartTransaction",), ("RequestStartTransaction",)),
        form=RemoteStartForm,
        send=remote_start,
    )
)
register(
    Operation(
        name="remote_stop",
        label=_("Remote stop"),
        help_text=_("Stop a running transaction (RemoteStop / RequestStopTransaction)."),
        actions=per_version(("RemoteStopTransaction",), ("RequestStopTransaction",)),
        form=RemoteStopForm,
        send=remote_stop,
    )
)
register(
    Operation(
        name="get_transaction_status",
        label=_("Get transaction status"),
        help_text=_("Ask about a transaction, or about messages still to send (OCPP 2.x)."),
        actions=per_version((), ("GetTransactionStatus",)),
        form=GetTransactionStatusForm,
        send=get_transaction_status,
    )
)
register(
    Operation(
        name="cost_updated",
        label=_("Cost updated"),
        help_text=_("Show the driver a session's running cost (OCPP 2.x CostUpdated)."),
        actions=per_version((), ("CostUpdated",)),
        form=CostUpdatedForm,
        send=cost_updated,
    )
)
