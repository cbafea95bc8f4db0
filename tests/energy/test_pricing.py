"""Tariff arithmetic (apps.energy.pricing): exact parts, one rounding, bands split at edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.energy.pricing import (
    Prices,
    PricingError,
    parse_bands,
    round_money,
    session_cost,
)

ROME = ZoneInfo("Europe/Rome")
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

price = st.decimals(min_value=0, max_value=5, places=4)
prices = st.builds(
    Prices,
    energy_price=price,
    time_price=price,
    idle_price=price,
    idle_grace_minutes=st.integers(0, 30),
    session_fee=price,
    vat_percent=st.decimals(min_value=0, max_value=30, places=2),
    bands=st.just(parse_bands([{"from": "22:00", "to": "06:00", "energy_price": "0.1"}])),
)
minutes = st.integers(min_value=0, max_value=24 * 60)
energy_wh = st.integers(min_value=0, max_value=200_000)


def cost(p: Prices, *, wh: int, mins: int, idle_after: int | None = None, start=T0):
    stop = start + timedelta(minutes=mins)
    drew_until = stop if idle_after is None else start + timedelta(minutes=min(idle_after, mins))
    samples = [(start, 1000), (drew_until, 1000 + wh)]
    if drew_until != stop:
        samples.append((stop, 1000 + wh))
    # When the car stopped drawing is held fixed (a session with no energy at all would
    # otherwise be idle from its start).
    return session_cost(
        prices=p,
        started_at=start,
        stopped_at=stop,
        samples=samples,
        stopped_drawing_at=drew_until,
        tz=ROME,
    )


@given(p=prices, wh=energy_wh, mins=minutes, idle=st.integers(0, 24 * 60))
def test_the_cost_is_never_negative(p, wh, mins, idle) -> None:
    result = cost(p, wh=wh, mins=mins, idle_after=idle)
    assert result.total >= 0
    assert min(result.energy, result.time, result.idle, result.net, result.vat) >= 0


@given(p=prices, wh=energy_wh, more=st.integers(1, 50_000), mins=st.integers(1, 24 * 60))
def test_more_energy_never_costs_less(p, wh, more, mins) -> None:
    assert cost(p, wh=wh + more, mins=mins).total >= cost(p, wh=wh, mins=mins).total
    assert cost(p, wh=wh + more, mins=mins).energy >= cost(p, wh=wh, mins=mins).energy


@given(p=prices, wh=energy_wh, mins=minutes, more=st.integers(1, 600))
def test_more_time_never_costs_less(p, wh, mins, more) -> None:
    # The same energy drawn over a longer stay: time and idle only grow.
    assert (
        cost(p, wh=wh, mins=mins + more, idle_after=mins).total
        >= cost(p, wh=wh, mins=mins, idle_after=mins).total
    )


@given(p=prices, wh=energy_wh, mins=minutes)
def test_it_rounds_once_and_the_shown_parts_add_up(p, wh, mins) -> None:
    result = cost(p, wh=wh, mins=mins)
    exact = result.energy + result.time + result.idle + result.session_fee
    assert result.net == exact
    assert result.total == round_money(exact * (1 + p.vat_percent / 100), "EUR")
    assert result.net_shown + result.vat_shown == result.total
    assert result.total == result.total.quantize(Decimal("0.01"))


def test_rounding_each_part_would_differ_but_the_total_is_rounded_once() -> None:
    # Two parts of 0.004: rounded each they make 0.00; their sum 0.008 rounds to 0.01.
    p = Prices(energy_price=Decimal("0.004"), time_price=Decimal("0.004"))
    result = cost(p, wh=1000, mins=1)
    assert result.energy == Decimal("0.004") and result.time == Decimal("0.004")
    assert result.total == Decimal("0.01")


def test_minor_units_follow_iso_4217() -> None:
    p = Prices(currency="JPY", energy_price=Decimal("45.5"))
    assert cost(p, wh=1000, mins=10).total == Decimal("46")
    assert round_money(Decimal("1.23456"), "KWD") == Decimal("1.235")


# --- Bands: local time of day (Europe/Rome), split by linear interpolation ---------------

NIGHT = Prices(
    energy_price=Decimal("0.40"),
    bands=parse_bands([{"from": "22:00", "to": "06:00", "energy_price": "0.10"}]),
)


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=ROME)


@given(seconds=st.integers(1, 3600))
def test_energy_just_before_a_boundary_is_priced_with_the_band_before(seconds) -> None:
    end = local(10, 22)
    start = end - timedelta(seconds=seconds)
    result = session_cost(
        prices=NIGHT, started_at=start, stopped_at=end, samples=[(start, 0), (end, 1000)], tz=ROME
    )
    assert result.energy == Decimal("0.40")


@given(seconds=st.integers(1, 3600))
def test_energy_just_after_a_boundary_is_priced_with_the_band_after(seconds) -> None:
    start = local(10, 22)
    end = start + timedelta(seconds=seconds)
    result = session_cost(
        prices=NIGHT, started_at=start, stopped_at=end, samples=[(start, 0), (end, 1000)], tz=ROME
    )
    assert result.energy == Decimal("0.10")


@given(before=st.integers(1, 7200), after=st.integers(1, 7200), wh=st.integers(1, 100_000))
def test_energy_across_a_boundary_is_split_by_time(before, after, wh) -> None:
    edge = local(10, 22)
    start, end = edge - timedelta(seconds=before), edge + timedelta(seconds=after)
    result = session_cost(
        prices=NIGHT, started_at=start, stopped_at=end, samples=[(start, 0), (end, wh)], tz=ROME
    )
    day_wh = Decimal(wh) * before / (before + after)
    night_wh = Decimal(wh) * after / (before + after)
    expected = (day_wh * Decimal("0.40") + night_wh * Decimal("0.10")) / 1000
    assert abs(result.energy - expected) < Decimal("1e-20")
    assert result.by_band["0.10"] + result.by_band["0.40"] == wh


def test_a_band_crossing_midnight_prices_the_whole_night() -> None:
    # 21:00 → 07:00 at 1 kWh per hour: 22-06 (8 h) at night, 21-22 and 06-07 (2 h) by day.
    start, end = local(10, 21), local(11, 7)
    samples = [(start + timedelta(hours=h), h * 1000) for h in range(11)]
    result = session_cost(prices=NIGHT, started_at=start, stopped_at=end, samples=samples, tz=ROME)
    assert result.by_band == {"0.40": Decimal(2000), "0.10": Decimal(8000)}
    assert result.energy == Decimal("1.60")


def test_interpolation_uses_the_samples_not_the_whole_session() -> None:
    # All energy drawn in the first hour (day), nothing after 22:00: no night price.
    start = local(10, 21)
    samples = [(start, 0), (local(10, 21, 59), 10_000), (local(11, 1), 10_000)]
    result = session_cost(
        prices=NIGHT, started_at=start, stopped_at=local(11, 1), samples=samples, tz=ROME
    )
    assert result.energy == Decimal("4.00")


def test_idle_fee_starts_after_the_grace() -> None:
    p = Prices(idle_price=Decimal("0.50"), idle_grace_minutes=10)
    result = cost(p, wh=5000, mins=60, idle_after=20)  # 40 idle minutes, 10 free
    assert result.idle_minutes == 30
    assert result.total == Decimal("15.00")


def test_a_meter_that_goes_down_adds_nothing() -> None:
    p = Prices(energy_price=Decimal("1"))
    samples = [(T0, 5000), (T0 + timedelta(minutes=5), 100), (T0 + timedelta(minutes=9), 1100)]
    result = session_cost(
        prices=p, started_at=T0, stopped_at=T0 + timedelta(minutes=9), samples=samples
    )
    assert result.energy_wh == 1000 and result.total == Decimal("1.00")


def test_vat_and_session_fee() -> None:
    p = Prices(energy_price=Decimal("0.30"), session_fee=Decimal("1"), vat_percent=Decimal("22"))
    result = cost(p, wh=10_000, mins=60)
    assert result.net == Decimal("4.00")
    assert result.total == Decimal("4.88")
    assert result.vat_shown == Decimal("0.88")


@pytest.mark.parametrize(
    "raw",
    [
        "22:00",
        [{"from": "22:00"}],
        [{"from": "25:00", "to": "06:00", "energy_price": "1"}],
        [{"from": "06:00", "to": "06:00", "energy_price": "1"}],
        [{"from": "22:00", "to": "06:00", "energy_price": "-1"}],
        [{"from": "22:00", "to": "06:00", "energy_price": "x"}],
    ],
)
def test_malformed_bands_are_refused(raw) -> None:
    with pytest.raises(PricingError):
        parse_bands(raw)


def test_negative_prices_and_backwards_sessions_are_refused() -> None:
    with pytest.raises(PricingError):
        Prices(energy_price=Decimal("-0.1"))
    with pytest.raises(PricingError):
        session_cost(prices=Prices(), started_at=T0, stopped_at=T0 - timedelta(1), samples=[])
