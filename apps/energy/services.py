"""Writes to energy accounts: every change of a balance is a ledger entry."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand
from apps.commands.services import send_command
from apps.core.timeutil import parse_ocpp_datetime
from apps.energy.models import (
    AccountStatus,
    EnergyAccount,
    EntryKind,
    HeldTariff,
    LedgerEntry,
    Tariff,
)
from apps.energy.ocpp_tariffs import parse_ocpp_tariff_id, tariff_type
from apps.energy.pricing import parse_bands
from apps.energy.selectors import default_tariff_stations

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
        saved = tariff.pk
        # After the commit (the stations may be asked at once); robust: a failure to send is
        # logged and never undoes or fails the saved version.
        transaction.on_commit(
            lambda: tariff_publish(tariff=Tariff.objects.get(pk=saved)), robust=True
        )
    return tariff


def account_language_set(*, account: EnergyAccount, language: str) -> bool:
    """Set the language the account's drivers are addressed in ("" : the node's); return
    whether it changed. Raise AccountError for a language this node does not have."""
    if language and language not in {code for code, _name in settings.LANGUAGES}:
        raise AccountError(f"unknown language {language!r}")
    if account.language == language:
        return False
    account.language = language
    account.save(update_fields=["language"])
    return True


# The `source` of the SetDefaultTariff commands sent when a tariff version is published.
TARIFF_PUBLISH_SOURCE = "tariff-publish"


def default_tariff_send(
    *, station: ChargingStation, tariff: Tariff, evse_id: int = 0, **options: Any
) -> ChargerCommand:
    """Send an OCPP 2.1 station a tariff version as its default tariff (SetDefaultTariff)."""
    payload = {"evseId": evse_id, "tariff": tariff_type(tariff)}
    return send_command(station=station, action="SetDefaultTariff", payload=payload, **options)


def tariff_publish(*, tariff: Tariff) -> list[ChargerCommand]:
    """Send a new tariff version to the connected OCPP 2.1 stations it is the default of.

    Stations that said in their device model they take no tariffs are skipped (see
    `default_tariff_stations`). A version valid from later goes with its `validFrom`: the
    station switches to it then. A station that cannot be sent it is logged and skipped.
    """
    sent = []
    for station in default_tariff_stations(tariff=tariff):
        try:
            sent.append(
                default_tariff_send(station=station, tariff=tariff, source=TARIFF_PUBLISH_SOURCE)
            )
        except CommandError:
            logger.exception("%s: tariff %s not sent", station.charger_id, tariff.pk)
    return sent


def _our_tariff(tariff_id: str) -> Tariff | None:
    parsed = parse_ocpp_tariff_id(tariff_id)
    if parsed is None:
        return None
    return Tariff.objects.filter(code=parsed[0], version=parsed[1]).first()


def held_tariff_set(
    *,
    station_id: int,
    evse_id: int,
    tariff_id: str,
    valid_from: datetime | None = None,
    now: datetime | None = None,
) -> HeldTariff:
    """Record that a station accepted `tariff_id` as its default tariff at an EVSE (0: all).

    One valid now replaces the default tariffs held there before; one valid from later is
    held beside them (the station switches at its `validFrom`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        held = HeldTariff.objects.filter(station_id=station_id, evse_id=evse_id)
        if valid_from is None or valid_from <= now:
            held.exclude(tariff_id=tariff_id).delete()
        row, _ = HeldTariff.objects.update_or_create(
            station_id=station_id,
            evse_id=evse_id,
            tariff_id=tariff_id,
            defaults={
                "tariff_version": _our_tariff(tariff_id),
                "kind": "DefaultTariff",
                "valid_from": valid_from,
            },
        )
    return row


def _station_time(value: Any) -> datetime | None:
    """A date-time a station sent, or None when it sent none or an unreadable one."""
    try:
        return parse_ocpp_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def held_tariffs_replace(
    *, station_id: int, assignments: list[dict[str, Any]], evse_id: int = 0
) -> int:
    """Record the tariffs a station reported (GetTariffs' tariffAssignments); return how many.

    What the station says replaces what was recorded: everything for `evse_id` 0 (asked for
    all EVSEs), else what was recorded at that EVSE. Driver tariffs are recorded too, with
    their kind.
    """
    with transaction.atomic():
        held = HeldTariff.objects.filter(station_id=station_id)
        if evse_id:
            held = held.filter(evse_id=evse_id)
        held.delete()
        rows = {}
        for item in assignments:
            for evse in item.get("evseIds") or [evse_id]:
                rows[(evse, item["tariffId"])] = HeldTariff(
                    station_id=station_id,
                    evse_id=evse,
                    tariff_id=item["tariffId"],
                    tariff_version=_our_tariff(item["tariffId"]),
                    kind=item.get("tariffKind", "DefaultTariff"),
                    valid_from=_station_time(item.get("validFrom")),
                )
        HeldTariff.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return len(rows)


def held_tariffs_clear(
    *, station_id: int, tariff_ids: list[str] | None = None, evse_id: int | None = None
) -> int:
    """Forget tariffs a station cleared (all of them without `tariff_ids`); return how many."""
    held = HeldTariff.objects.filter(station_id=station_id)
    if tariff_ids is not None:
        held = held.filter(tariff_id__in=tariff_ids)
    if evse_id is not None:
        held = held.filter(evse_id=evse_id)
    deleted, _ = held.delete()
    return deleted
