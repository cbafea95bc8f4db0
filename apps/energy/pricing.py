"""Tariff arithmetic: the cost of a charging session from its meter readings (docs/billing.md).

Pure functions on plain data: a tariff's prices (`Prices`, read from a `Tariff` row with
`Prices.of`), the session's start and stop, and its energy register over time. No database,
Decimal only. Every part is computed exactly; the total (VAT included) is rounded to the
currency's minor unit once, at the end:

    total = round(net * (1 + VAT%/100))     net_shown = round(net)     vat_shown = total - net_shown

so the parts shown on a receipt add up to the total charged, and no rounding of a part
(energy in one band, a minute of idle fee) moves the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.energy.models import Tariff

# ISO 4217 minor units of the currencies that do not use two (two is the default).
MINOR_UNITS = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
}
ZERO = Decimal(0)
_WH_PER_KWH = Decimal(1000)
_US_PER_MINUTE = Decimal(60_000_000)


class PricingError(ValueError):
    """A tariff or a session that cannot be priced (a negative price, a malformed band)."""


def minor_unit(currency: str) -> Decimal:
    """Return the currency's smallest amount (EUR 0.01, JPY 1, KWD 0.001)."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, halves away from zero (as receipts do)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Band:
    """An energy price for a local time of day; `start` after `end` crosses midnight."""

    start: time
    end: time
    energy_price: Decimal

    def covers(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Prices:
    """What one tariff version charges (all amounts net of VAT)."""

    currency: str = "EUR"
    energy_price: Decimal = ZERO  # per kWh
    time_price: Decimal = ZERO  # per minute
    idle_price: Decimal = ZERO  # per minute, after the grace
    idle_grace_minutes: int = 0
    session_fee: Decimal = ZERO
    vat_percent: Decimal = ZERO
    bands: tuple[Band, ...] = ()

    def __post_init__(self) -> None:
        amounts = [self.energy_price, self.time_price, self.idle_price, self.session_fee]
        amounts += [self.vat_percent, *(band.energy_price for band in self.bands)]
        if any(amount < 0 for amount in amounts) or self.idle_grace_minutes < 0:
            raise PricingError("tariff prices are never negative")

    @classmethod
    def of(cls, tariff: Tariff) -> Prices:
        """Read a tariff version's prices (its bands parsed and checked)."""
        return cls(
            currency=tariff.currency,
            energy_price=Decimal(tariff.energy_price),
            time_price=Decimal(tariff.time_price),
            idle_price=Decimal(tariff.idle_price),
            idle_grace_minutes=tariff.idle_grace_minutes,
            session_fee=Decimal(tariff.session_fee),
            vat_percent=Decimal(tariff.vat_percent),
            bands=parse_bands(tariff.bands),
        )

    def energy_price_at(self, moment: time) -> Decimal:
        """Return the price per kWh at a local time of day (the first band covering it)."""
        for band in self.bands:
            if band.covers(moment):
                return band.energy_price
        return self.energy_price


def parse_bands(raw: Any) -> tuple[Band, ...]:
    """Parse the tariff's bands JSON ([{"from": "22:00", "to": "06:00", "energy_price": ..}])."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise PricingError("bands are a list")
    bands = []
    for item in raw:
        try:
            start = time.fromisoformat(item["from"])
            end = time.fromisoformat(item["to"])
            price = Decimal(str(item["energy_price"]))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise PricingError(f"malformed band {item!r}") from exc
        if start == end:
            raise PricingError(f"band {item!r} is empty")
        if not price.is_finite() or price < 0:
            raise PricingError(f"band {item!r} has a negative price")
        bands.append(Band(start, end, price))
    return tuple(bands)


@dataclass(frozen=True)
class Cost:
    """A session's cost in parts. The parts are exact; `total` is rounded once."""

    currency: str
    energy_wh: Decimal
    energy: Decimal
    time: Decimal
    idle: Decimal
    session_fee: Decimal
    net: Decimal
    vat: Decimal
    total: Decimal  # net + VAT, rounded to the minor unit: what is charged
    net_shown: Decimal  # net rounded; vat_shown = total - net_shown
    vat_shown: Decimal
    minutes: Decimal = ZERO
    idle_minutes: Decimal = ZERO
    by_band: dict[str, Decimal] = field(default_factory=dict)  # energy Wh per price


def stopped_drawing(samples: Sequence[tuple[datetime, Decimal]]) -> datetime | None:
    """Return when the register reached its last value: the car stopped drawing then."""
    if not samples:
        return None
    last = samples[-1][1]
    for moment, wh in samples:
        if wh >= last:
            return moment
    return samples[-1][0]


def _local_boundaries(prices: Prices, start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """Return the band edges (local times of day) strictly between start and end, in order."""
    if not prices.bands:
        return []
    edges = {band.start for band in prices.bands} | {band.end for band in prices.bands}
    first: date = start.astimezone(tz).date() - timedelta(days=1)
    last: date = end.astimezone(tz).date() + timedelta(days=1)
    found = []
    day = first
    while day <= last:
        for edge in edges:
            moment = datetime.combine(day, edge, tzinfo=tz)
            if start < moment < end:
                found.append(moment.astimezone(UTC))
        day += timedelta(days=1)
    return sorted(set(found))


def _us(delta: timedelta) -> Decimal:
    return Decimal((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _energy(prices: Prices, samples: Sequence[tuple[datetime, Decimal]], tz: tzinfo) -> tuple:
    """Price the energy between consecutive samples, split at band edges by linear interpolation.

    A register that goes down (a meter replaced) adds no energy and no cost.
    """
    cost, total_wh = ZERO, ZERO
    by_band: dict[str, Decimal] = {}
    for (t0, wh0), (t1, wh1) in pairwise(samples):
        delta = wh1 - wh0
        if delta <= 0:
            continue
        total_wh += delta
        span = _us(t1 - t0)
        cuts = [t0, *_local_boundaries(prices, t0, t1, tz), t1] if span > 0 else [t0, t1]
        for a, b in pairwise(cuts):
            # Energy of the piece by time (linear between samples); a zero-length segment
            # (two readings at one instant) is all at that instant.
            part = delta if span == 0 else delta * _us(b - a) / span
            price = prices.energy_price_at((a + (b - a) / 2).astimezone(tz).time())
            cost += part * price / _WH_PER_KWH
            by_band[str(price)] = by_band.get(str(price), ZERO) + part
    return cost, total_wh, by_band


def session_cost(
    *,
    prices: Prices,
    started_at: datetime,
    stopped_at: datetime,
    samples: Sequence[tuple[datetime, Decimal | int]],
    stopped_drawing_at: datetime | None = None,
    tz: tzinfo = UTC,
) -> Cost:
    """Return the cost of a session (running: `stopped_at` is now).

    `samples`: the energy register (cumulative Wh) over time, in time order, including the
    meter at start and, once stopped, at stop. Bands are read in `tz` (the site's
    TIME_ZONE). The idle fee runs from `stopped_drawing_at` (default: when the register
    reached its last value) to the stop, after the grace minutes.
    """
    if stopped_at < started_at:
        raise PricingError("a session stops after it starts")
    readings = sorted(((at, Decimal(wh)) for at, wh in samples), key=lambda item: item[0])
    energy, energy_wh, by_band = _energy(prices, readings, tz)
    minutes = _us(stopped_at - started_at) / _US_PER_MINUTE
    idle_from = stopped_drawing_at or stopped_drawing(readings) or stopped_at
    idle_from = min(max(idle_from, started_at), stopped_at)
    idle_minutes = max(
        ZERO, _us(stopped_at - idle_from) / _US_PER_MINUTE - prices.idle_grace_minutes
    )
    time_cost = minutes * prices.time_price
    idle = idle_minutes * prices.idle_price
    net = energy + time_cost + idle + prices.session_fee
    vat = net * prices.vat_percent / 100
    total = round_money(net + vat, prices.currency)
    net_shown = round_money(net, prices.currency)
    return Cost(
        currency=prices.currency,
        energy_wh=energy_wh,
        energy=energy,
        time=time_cost,
        idle=idle,
        session_fee=prices.session_fee,
        net=net,
        vat=vat,
        total=total,
        net_shown=net_shown,
        vat_shown=total - net_shown,
        minutes=minutes,
        idle_minutes=idle_minutes,
        by_band=by_band,
    )
