"""Writes to energy accounts: every change of a balance is a ledger entry."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry


class LedgerError(ValueError):
    """A ledger entry that may not be written (unknown kind, zero amount …)."""


def ledger_post(
    *,
    account: EnergyAccount,
    kind: str,
    amount: Decimal,
    reference: str = "",
    reason: str = "",
    by: str = "",
) -> tuple[LedgerEntry, bool]:
    """Write one entry and move the account's balance; return (entry, created).

    With a `reference`, posting the same (account, kind, reference) again returns the entry
    already written (created False) and changes nothing: replays are harmless. The account row
    is locked for the entry, so concurrent posts add up.
    """
    if kind not in EntryKind.values:
        raise LedgerError(f"unknown entry kind {kind!r}")
    amount = Decimal(amount)
    if kind == EntryKind.ADJUSTMENT and not reason:
        raise LedgerError("a manual adjustment needs a reason")
    with transaction.atomic():
        locked = EnergyAccount.objects.select_for_update().get(pk=account.pk)
        if reference:
            existing = LedgerEntry.objects.filter(
                account=locked, kind=kind, reference=reference
            ).first()
            if existing is not None:
                return existing, False
        balance = locked.balance + amount
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    account=locked,
                    kind=kind,
                    amount=amount,
                    reference=reference,
                    reason=reason,
                    created_by=by,
                    balance_after=balance,
                )
        except IntegrityError:
            # The same reference was written meanwhile (another process's replay).
            return LedgerEntry.objects.get(account=locked, kind=kind, reference=reference), False
        locked.balance = balance
        locked.save(update_fields=["balance"])
    account.balance = balance
    return entry, True
