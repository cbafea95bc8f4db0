"""Reads of energy accounts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum

from apps.energy.models import EnergyAccount, LedgerEntry, Tariff


def account_ledger_balance(*, account: EnergyAccount) -> Decimal:
    """Return the sum of the account's entries (what `balance` must always equal)."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else Decimal("0")


def account_available(*, account: EnergyAccount) -> Decimal:
    """Return what the account may still spend: its balance plus its credit limit."""
    return account.balance + account.credit_limit


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
