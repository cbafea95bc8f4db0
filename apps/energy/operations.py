"""OCPP 2.1 tariff operations: the station prices sessions itself from the tariffs we send.

Offered only to stations connected with OCPP 2.1 (2.0.1 and 1.6 have no tariff messages).

- set_default_tariff: SetDefaultTariff (a tariff version as TariffType); Accepted: the
  station holds it.
- get_tariffs: GetTariffs; what the station reports replaces what it was said to hold.
- clear_tariffs: ClearTariffs; the cleared tariffs are no longer held.
- change_transaction_tariff: ChangeTransactionTariff (a running session); recorded on the
  command.

A Rejected (TooManyElements, ConditionNotSupported …) answer is stored on the command, as
every answer is, and changes nothing held.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.forms import ConnectorField, OperationForm
from apps.commands.models import ChargerCommand
from apps.commands.registry import Operation, register
from apps.commands.services import send_command
from apps.core.timeutil import parse_ocpp_datetime
from apps.energy import services
from apps.energy.models import Tariff
from apps.energy.ocpp_tariffs import tariff_type
from apps.protocol.versions import V21

logger = logging.getLogger(__name__)


def _tariff(tariff: Tariff | int | str) -> Tariff:
    if isinstance(tariff, Tariff):
        return tariff
    found = Tariff.objects.filter(pk=int(tariff)).first() if str(tariff).isdigit() else None
    if found is None:
        raise CommandError(f"no tariff version {tariff!r} (give its id)")
    return found


def set_default_tariff(
    *, station: ChargingStation, tariff: Tariff | int, evse_id: int = 0, **options: Any
) -> ChargerCommand:
    """Send a tariff version as the station's default tariff at an EVSE (0: all)."""
    return services.default_tariff_send(
        station=station, tariff=_tariff(tariff), evse_id=evse_id, **options
    )


def get_tariffs(*, station: ChargingStation, evse_id: int = 0, **options: Any) -> ChargerCommand:
    """Ask the station which tariffs it holds at an EVSE (0: all)."""
    return send_command(
        station=station, action="GetTariffs", payload={"evseId": evse_id}, **options
    )


def clear_tariffs(
    *,
    station: ChargingStation,
    tariff_ids: list[str] | str | None = None,
    evse_id: int | None = None,
    **options: Any,
) -> ChargerCommand:
    """Clear tariffs the station holds: the ones named (comma separated), else all."""
    if isinstance(tariff_ids, str):
        tariff_ids = [item.strip() for item in tariff_ids.split(",") if item.strip()]
    payload: dict[str, Any] = {}
    if tariff_ids:
        payload["tariffIds"] = list(tariff_ids)
    if evse_id is not None:
        payload["evseId"] = evse_id
    return send_command(station=station, action="ClearTariffs", payload=payload, **options)


def change_transaction_tariff(
    *, station: ChargingStation, transaction_id: str, tariff: Tariff | int, **options: Any
) -> ChargerCommand:
    """Price a running session with another tariff version from now on."""
    payload = {"transactionId": transaction_id, "tariff": tariff_type(_tariff(tariff))}
    return send_command(
        station=station, action="ChangeTransactionTariff", payload=payload, **options
    )


def _tariff_choices() -> Any:
    return Tariff.objects.select_related("station").order_by("code", "-version")


class SetDefaultTariffForm(OperationForm):
    operation = "set_default_tariff"

    tariff = forms.ModelChoiceField(label=_("tariff version"), queryset=Tariff.objects.none())
    evse_id = ConnectorField(label=_("EVSE (0: all)"), initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tariff"].queryset = _tariff_choices()

    def arguments(self) -> dict[str, Any]:
        return {"tariff": self.cleaned_data["tariff"], "evse_id": self.cleaned_data["evse_id"]}


class GetTariffsForm(OperationForm):
    operation = "get_tariffs"

    evse_id = ConnectorField(label=_("EVSE (0: all)"), initial=0)

    def arguments(self) -> dict[str, Any]:
        return {"evse_id": self.cleaned_data["evse_id"]}


class ClearTariffsForm(OperationForm):
    operation = "clear_tariffs"

    tariff_ids = forms.CharField(
        label=_("tariff ids"),
        required=False,
        max_length=620,
        help_text=_("Comma separated, e.g. standard-v2. Empty: every tariff."),
    )
    evse_id = ConnectorField(
        label=_("EVSE"), required=False, help_text=_("Empty: wherever the tariffs are.")
    )

    def clean_tariff_ids(self) -> list[str]:
        ids = [item.strip() for item in self.cleaned_data["tariff_ids"].split(",")]
        ids = [item for item in ids if item]
        if any(len(item) > 60 for item in ids):
            raise forms.ValidationError(_("A tariff id has at most 60 characters."))
        return ids


class ChangeTransactionTariffForm(OperationForm):
    operation = "change_transaction_tariff"

    transaction_id = forms.CharField(label=_("transaction id"), max_length=36)
    tariff = forms.ModelChoiceField(label=_("tariff version"), queryset=Tariff.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tariff"].queryset = _tariff_choices()


def _set_default_tariff_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    tariff = command.payload["tariff"]
    if response["status"] != "Accepted":
        logger.warning(
            "station %s refused tariff %s: %s %s",
            command.station_id,
            tariff["tariffId"],
            response["status"],
            (response.get("statusInfo") or {}).get("reasonCode", ""),
        )
        return
    try:  # a raw payload's validFrom may be anything the schema lets through
        valid_from = parse_ocpp_datetime(tariff["validFrom"]) if tariff.get("validFrom") else None
    except (TypeError, ValueError):
        valid_from = None
    services.held_tariff_set(
        station_id=command.station_id,
        evse_id=command.payload["evseId"],
        tariff_id=tariff["tariffId"],
        valid_from=valid_from,
    )


def _get_tariffs_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    status = response["status"]
    evse_id = command.payload.get("evseId", 0)
    if status == "Accepted":
        services.held_tariffs_replace(
            station_id=command.station_id,
            assignments=response.get("tariffAssignments", []),
            evse_id=evse_id,
        )
    elif status == "NoTariff":
        services.held_tariffs_clear(station_id=command.station_id, evse_id=evse_id or None)


def _clear_tariffs_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    results = response["clearTariffsResult"]
    evse_id = command.payload.get("evseId")
    if "tariffIds" not in command.payload:
        if all(result["status"] in ("Accepted", "NoTariff") for result in results):
            services.held_tariffs_clear(station_id=command.station_id, evse_id=evse_id)
        return
    cleared = [
        result["tariffId"]
        for result in results
        if result["status"] in ("Accepted", "NoTariff") and result.get("tariffId")
    ]
    if cleared:
        services.held_tariffs_clear(
            station_id=command.station_id, tariff_ids=cleared, evse_id=evse_id
        )


register(
    Operation(
        name="set_default_tariff",
        label=_("Set default tariff"),
        help_text=_(
            "Send a tariff version for the station to price sessions with (OCPP 2.1 "
            "SetDefaultTariff)."
        ),
        actions={V21: ("SetDefaultTariff",)},
        form=SetDefaultTariffForm,
        send=set_default_tariff,
        effects={"SetDefaultTariff": _set_default_tariff_answered},
    )
)
register(
    Operation(
        name="get_tariffs",
        label=_("Get tariffs"),
        help_text=_("Ask the station which tariffs it holds (OCPP 2.1 GetTariffs)."),
        actions={V21: ("GetTariffs",)},
        form=GetTariffsForm,
        send=get_tariffs,
        effects={"GetTariffs": _get_tariffs_answered},
    )
)
register(
    Operation(
        name="clear_tariffs",
        label=_("Clear tariffs"),
        help_text=_("Remove tariffs from the station (OCPP 2.1 ClearTariffs)."),
        actions={V21: ("ClearTariffs",)},
        form=ClearTariffsForm,
        send=clear_tariffs,
        effects={"ClearTariffs": _clear_tariffs_answered},
    )
)
register(
    Operation(
        name="change_transaction_tariff",
        label=_("Change transaction tariff"),
        help_text=_(
            "Price a running session with another tariff version from now on (OCPP 2.1 "
            "ChangeTransactionTariff)."
        ),
        actions={V21: ("ChangeTransactionTariff",)},
        form=ChangeTransactionTariffForm,
        send=change_transaction_tariff,
    )
)
