"""Live figures from meter readings: power now and the energy register, whatever the phases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apps.transactions.units import normalize

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


def summarize_samples(samples: Iterable[dict[str, Any]]) -> dict[str, float | None]:
    """Return the latest power (W) and energy register (Wh) in serialised sampled values."""
    latest: dict[str, tuple[str, list[tuple[str, float]]]] = {}
    for sample in samples:
        measurand = sample.get("measurand") or ENERGY
        if measurand not in (POWER, ENERGY):
            continue
        value, _unit = normalize(
            measurand,
            sample.get("unit", ""),
            sample.get("value", ""),
            sample.get("format", ""),
            sample.get("multiplier", 0) or 0,
        )
        if value is None:
            continue
        stamp = str(sample.get("timestamp", ""))
        current = latest.get(measurand)
        if current is None or stamp > current[0]:
            latest[measurand] = (stamp, [(sample.get("phase", ""), value)])
        elif stamp == current[0]:
            current[1].append((sample.get("phase", ""), value))
    return {
        "power_w": combine(latest[POWER][1]) if POWER in latest else None,
        "register_wh": combine(latest[ENERGY][1]) if ENERGY in latest else None,
    }
