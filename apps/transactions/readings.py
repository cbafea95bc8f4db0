"""Live figures from meter readings: power now and the energy register, whatever the phases."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from apps.transactions.units import normalize

if TYPE_CHECKING:
    from apps.transactions.samples import SampledValue

POWER = "Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"
_PHASES = ({"L1", "L2", "L3"}, {"L1-N", "L2-N", "L3-N"})


def combine(values: Iterable[tuple[str, float]]) -> float | None:
    """Return one figure from (phase, value) readings taken at the same time.

    A reading without a phase is the total; otherwise the phases are added up.
    """
    by_phase: dict[str, float] = {}
    for phase, value in values:
        by_phase[phase] = value
    if "" in by_phase:
        return by_phase[""]
    for phases in _PHASES:
        found = [by_phase[phase] for phase in phases if phase in by_phase]
        if found:
            return sum(found)
    return None


def summarize_samples(samples: Iterable[SampledValue]) -> tuple[float | None, float | None]:
    """Return the latest power (W) and energy register (Wh) among sampled values.

    For the live events of meter readings. Never raises: a value no number can be made of is
    left out, as a signed or non-numeric one is.
    """
    latest: dict[str, tuple[str, list[tuple[str, float]]]] = {}
    for sample in samples:
        measurand = sample.measurand or ENERGY
        if measurand not in (POWER, ENERGY):
            continue
        try:
            value, _unit = normalize(
                measurand, sample.unit, sample.value, sample.format, sample.multiplier or 0
            )
        except (ArithmeticError, TypeError, ValueError):  # a huge multiplier overflows
            continue
        if value is None:
            continue
        stamp = _stamp(sample.timestamp)
        current = latest.get(measurand)
        if current is None or stamp > current[0]:
            latest[measurand] = (stamp, [(sample.phase, value)])
        elif stamp == current[0]:
            current[1].append((sample.phase, value))
    return (
        combine(latest[POWER][1]) if POWER in latest else None,
        combine(latest[ENERGY][1]) if ENERGY in latest else None,
    )


def _stamp(moment: datetime | str) -> str:
    # Compared as ISO 8601 text, which orders naive and aware times alike without raising.
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)
