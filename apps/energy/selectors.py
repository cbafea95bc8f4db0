"""Reads of energy accounts."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from apps.energy.models import EnergyAccount, LedgerEntry


def account_ledger_balance(*, account: EnergyAccount) -> Decimal:
    """Return the sum of the account's entries (what `balance` must always equal)."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else Decimal("0")


def account_available(*, account: EnergyAccount) -> Decimal:
    """Return what the account may still spend: its balance plus its credit limit."""
    return account.balance + account.credit_limit
