"""Writes to energy accounts: every change of a balance is a ledger entry."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.energy.models import AccountStatus, EnergyAccount, EntryKind, LedgerEntry, Tariff
from apps.energy.pricing import parse_bands

logger = logging.getLogger(__name__)


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


class AccountError(ValueError):
    """An account change that may not be made (bad amount, missing reason …)."""


# An adjustment's amount has at most the ledger's 4 decimal places and fits its 14 digits.
_AMOUNT_LIMIT = Decimal("1e10")


def account_adjust(*, account: EnergyAccount, amount: Decimal, reason: str, by: str) -> LedgerEntry:
    """Credit (positive) or debit (negative) `account` by hand; the ledger keeps reason and who.

    Raise AccountError for a zero, too precise or too large amount or an empty reason.
    """
    reason = reason.strip()
    if not reason:
        raise AccountError("a manual adjustment needs a reason")
    if not amount.is_finite() or amount == 0:
        raise AccountError("the amount must be a number other than zero")
    if amount.as_tuple().exponent < -4 or abs(amount) >= _AMOUNT_LIMIT:  # type: ignore[operator]
        raise AccountError("the amount has at most 4 decimal places and 10 digits before them")
    entry, _ = ledger_post(
        account=account, kind=EntryKind.ADJUSTMENT, amount=amount, reason=reason[:200], by=by
    )
    logger.info("account %s adjusted by %s: %s (%s)", account.pk, by, amount, reason)
    return entry


def account_status_set(*, account: EnergyAccount, status: str, reason: str, by: str) -> bool:
    """Block, close or reactivate `account`; return whether its status changed.

    Blocking or closing needs a reason (the operator and the refused card's session see it).
    The cards of a blocked or closed account are refused from the next Authorize or start.
    """
    if status not in AccountStatus.values:
        raise AccountError(f"unknown account status {status!r}")
    reason = reason.strip()
    if status != AccountStatus.ACTIVE and not reason:
        raise AccountError("blocking or closing an account needs a reason")
    changed = account.status != status or account.status_reason != reason
    if changed:
        account.status, account.status_reason = status, reason[:200]
        account.save(update_fields=["status", "status_reason"])
        logger.info("account %s set %s by %s: %s", account.pk, status, by, reason)
    return changed


def tariff_save_version(*, tariff: Tariff, now: datetime | None = None) -> Tariff:
    """Save a tariff as a new version of its code; the versions before stay as they were.

    A new code starts at version 1. Changes to a saved version are written as the next
    version (priced sessions keep the version they used); its `valid_from` is not earlier
    than now, so sessions already started keep their prices. Bands are checked first.
    """
    parse_bands(tariff.bands)
    now = now or timezone.now()
    with transaction.atomic():
        newest = (
            Tariff.objects.select_for_update()
            .filter(code=tariff.code)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        if tariff.pk is not None:
            tariff.pk = None
            tariff._state.adding = True
            tariff.valid_from = max(tariff.valid_from, now)
        tariff.version = (newest or 0) + 1
        tariff.save()
    return tariff
