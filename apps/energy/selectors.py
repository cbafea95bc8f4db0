"""Reads of energy accounts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum

from apps.chargers.models import ChargingStation, OcppVersion
from apps.devicemodel.models import DeviceVariable
from apps.energy.models import AccountStatus, EnergyAccount, LedgerEntry, Tariff
from apps.energy.ocpp_tariffs import tariff_type

# The account's say on a card (the OCPP 2.x AuthorizationStatusEnumType spelling; OCPP 1.6 has
# no NoCredit and answers Blocked).
ACCOUNT_ACCEPTED = "Accepted"
ACCOUNT_BLOCKED = "Blocked"
ACCOUNT_NO_CREDIT = "NoCredit"


def account_ledger_balance(*, account: EnergyAccount) -> Decimal:
    """Return the sum of the account's entries (what `balance` must always equal)."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else Decimal("0")


def account_available(*, account: EnergyAccount) -> Decimal:
    """Return what the account may still spend: its balance plus its credit limit."""
    return account.balance + account.credit_limit


def account_authorization(*, account: EnergyAccount) -> tuple[str, str]:
    """Return (status, reason) of the account's say on starting a session with one of its cards.

    Blocked or closed: Blocked, with the account's status reason. Exhausted (what it may still
    spend, balance + credit limit, is zero or less, or under ENERGY_MIN_TO_START): NoCredit.
    Otherwise Accepted with no reason.
    """
    if account.status != AccountStatus.ACTIVE:
        why = f": {account.status_reason}" if account.status_reason else ""
        return ACCOUNT_BLOCKED, f"account {account.pk} {account.status}{why}"[:200]
    available = account_available(account=account)
    minimum = Decimal(str(settings.ENERGY_MIN_TO_START))
    if available <= 0 or available < minimum:
        unit = account.currency if account.unit == "money" else "kWh"
        reason = (
            f"account {account.pk} has no credit: {available.normalize():f} {unit} available,"
            f" more than {minimum.normalize():f} needed to start"
        )
        return ACCOUNT_NO_CREDIT, reason[:200]
    return ACCOUNT_ACCEPTED, ""


def tariff_for_session(*, station_id: int, group: str, at: datetime) -> Tariff | None:
    """Return the tariff version that prices a session of `station_id` started `at`.

    In order: the station's tariff for the account's group, the station's tariff, the
    default tariff (no station) for the group, the default tariff; of each, the version
    valid at the start (the newest `valid_from` not after it). None: the session is free.
    """
    candidates = Tariff.objects.filter(valid_from__lte=at).filter(
        Q(station_id=station_id) | Q(station__isnull=True)
    )
    candidates = candidates.filter(group__in=[group, ""] if group else [""])
    best: Tariff | None = None
    best_rank: tuple = ()
    for tariff in candidates.order_by("-valid_from", "-version"):
        rank = (tariff.station_id is not None, tariff.group != "")
        if best is None or rank > best_rank:
            best, best_rank = tariff, rank
    return best


# OCPP 2.1 device model: a station says whether it prices sessions from tariffs itself.
TARIFF_CONTROLLER = "TariffCostCtrlr"
TARIFF_SWITCHES = ("Available", "Enabled")
TARIFF_INSTANCE = "Tariff"


def station_takes_tariffs(*, station_id: int) -> bool:
    """Tell whether a 2.1 station may be sent tariffs: not when its device model, as far as
    known, says TariffCostCtrlr Available[Tariff] or Enabled[Tariff] is false.

    Unknown (no report yet): True. The station answers Rejected if it cannot take one.
    """
    values = DeviceVariable.objects.filter(
        station_id=station_id,
        component=TARIFF_CONTROLLER,
        variable__in=TARIFF_SWITCHES,
        variable_instance=TARIFF_INSTANCE,
        attribute_type="Actual",
    ).values_list("value", flat=True)
    return not any((value or "").strip().lower() == "false" for value in values)


def driver_tariff(*, station_id: int, group: str, at: datetime) -> Tariff | None:
    """Return the tariff made for an account's group at a station (None: no group tariff)."""
    if not group:
        return None
    tariff = tariff_for_session(station_id=station_id, group=group, at=at)
    return tariff if tariff is not None and tariff.group == group else None


def default_tariff_stations(*, tariff: Tariff) -> list[ChargingStation]:
    """Return the connected OCPP 2.1 stations whose default tariff `tariff` is.

    A station's own tariff (no group) for it; a default tariff (no station, no group) for
    every station without one of its own. Tariffs of a group are the drivers' (sent in the
    Authorize answer), never a station's default. Stations whose device model says they take
    no tariffs are left out.
    """
    if tariff.group:
        return []
    stations = ChargingStation.objects.filter(is_connected=True, ocpp_version=OcppVersion.V21)
    if tariff.station_id is not None:
        stations = stations.filter(pk=tariff.station_id)
    else:
        own = Tariff.objects.filter(station__isnull=False, group="").values("station_id")
        stations = stations.exclude(pk__in=own)
    return [station for station in stations if station_takes_tariffs(station_id=station.pk)]


def driver_tariff_type(*, station_id: int, group: str, at: datetime) -> dict[str, Any] | None:
    """Return the tariff of an account's group at a 2.1 station as a TariffType, if it has one
    and the station takes tariffs (AuthorizeResponse.tariff); None otherwise (no query without
    a group)."""
    tariff = driver_tariff(station_id=station_id, group=group, at=at)
    if tariff is None or not station_takes_tariffs(station_id=station_id):
        return None
    return tariff_type(tariff)
