"""How a transaction's figures read: kW, kWh and durations, localised."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format

from apps.core.timeutil import utcnow
from apps.energy.pricing import minor_unit, round_money
from apps.transactions.models import Transaction


def kw(watts: float | None) -> str:
    """Return watts as kW with two decimals, "-" when unknown."""
    if watts is None:
        return "-"
    return number_format(watts / 1000, 2, use_l10n=True)


def kwh(watt_hours: float | None) -> str:
    """Return watt-hours as kWh with three decimals, "-" when unknown."""
    if watt_hours is None:
        return "-"
    return number_format(watt_hours / 1000, 3, use_l10n=True)


def money(amount: Decimal | None, currency: str) -> str:
    """Return an amount with its currency ("5,00 EUR" in Italian), "-" when unknown."""
    if amount is None:
        return "-"
    places = max(0, -minor_unit(currency).as_tuple().exponent)
    return f"{number_format(amount, places, use_l10n=True)} {currency}"


def cost_text(transaction: Transaction) -> str | None:
    """Return a priced session's cost as plain decimal text in its currency's minor unit."""
    if transaction.cost is None:
        return None
    currency = transaction.tariff.currency if transaction.tariff else ""
    return str(round_money(transaction.cost, currency))


def duration(transaction: Transaction) -> str:
    """Return how long a transaction ran (or has run so far) as H:MM:SS."""
    end = transaction.stopped_at or utcnow()
    seconds = max(0, int((end - transaction.started_at).total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
