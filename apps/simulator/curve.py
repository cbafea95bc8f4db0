"""The electric side of a simulated session: a battery charged along a realistic curve.

Sans-I/O and cheap: `advance(dt)` integrates over real elapsed seconds, `reading()` says
what the meter shows now. The curve has the three phases a driver sees in an app: current
ramps up for a few seconds, stays at the vehicle's limit (constant current) and tapers off
as the state of charge nears full (constant voltage), until the vehicle stops drawing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

NOMINAL_VOLTAGE_V = 230.0
# Below this the vehicle is done: it stops drawing (SuspendedEV).
FULL_SOC = 0.999
# Integration step: the taper is an exponential, so long meter intervals are cut in pieces.
MAX_STEP_S = 1.0


@dataclass(frozen=True)
class Reading:
    """What the meter of one connector shows at an instant."""

    energy_wh: float  # the register: lifetime energy of the connector's meter
    power_w: float
    current_a: tuple[float, ...]  # per phase
    voltage_v: tuple[float, ...]  # per phase, phase to neutral
    soc_percent: int | None  # None when no vehicle is connected


@dataclass
class ChargingCurve:
    """A vehicle's battery on a charger: state of charge in, current and energy out."""

    capacity_wh: float
    soc: float  # 0..1
    max_current_a: float  # per phase: the lower of the charger's and the vehicle's limits
    phases: int = 3
    ramp_s: float = 4.0
    taper_from_soc: float = 0.8
    elapsed_s: float = 0.0
    energy_wh: float = 0.0  # delivered in this session

    @property
    def full(self) -> bool:
        return self.soc >= FULL_SOC

    def current_a(self) -> float:
        """Return the per-phase current the vehicle draws in its present state."""
        if self.full:
            return 0.0
        ramp = 1.0 if self.ramp_s <= 0 else min(1.0, self.elapsed_s / self.ramp_s)
        if self.soc < self.taper_from_soc:
            taper = 1.0
        else:
            # Constant-voltage phase: current falls in proportion to the charge still missing.
            taper = max(0.02, (1.0 - self.soc) / (1.0 - self.taper_from_soc))
        return self.max_current_a * ramp * taper

    def power_w(self, voltage_v: float = NOMINAL_VOLTAGE_V) -> float:
        return self.current_a() * voltage_v * self.phases

    def advance(self, seconds: float) -> float:
        """Charge for `seconds`; return the energy delivered meanwhile, in Wh."""
        delivered = 0.0
        remaining = max(0.0, seconds)
        while remaining > 0:
            step = min(MAX_STEP_S, remaining)
            # Midpoint rule: the ramp is linear in time, so this is exact while ramping.
            self.elapsed_s += step / 2
            energy = self.power_w() * step / 3600.0
            self.elapsed_s += step / 2
            if self.capacity_wh > 0:
                energy = min(energy, (1.0 - self.soc) * self.capacity_wh)
                self.soc = min(1.0, self.soc + energy / self.capacity_wh)
            delivered += energy
            remaining -= step
        self.energy_wh += delivered
        return delivered


@dataclass
class Meter:
    """A connector's meter: its register and, while a vehicle charges, the vehicle's curve."""

    energy_wh: float = 0.0
    phases: int = 3
    curve: ChargingCurve | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def advance(self, seconds: float) -> None:
        if self.curve is not None:
            self.energy_wh += self.curve.advance(seconds)

    def reading(self) -> Reading:
        # Grid voltage wanders by a volt or two; the phases of one vehicle draw nearly alike.
        voltages = tuple(
            round(NOMINAL_VOLTAGE_V + self.rng.uniform(-2.5, 2.5), 1) for _ in range(self.phases)
        )
        if self.curve is None:
            return Reading(self.energy_wh, 0.0, (0.0,) * self.phases, voltages, None)
        base = self.curve.current_a()
        currents = tuple(
            round(base * self.rng.uniform(0.99, 1.01), 2) if base else 0.0
            for _ in range(self.phases)
        )
        power = sum(v * i for v, i in zip(voltages, currents, strict=True))
        soc = round(self.curve.soc * 100)
        return Reading(self.energy_wh, round(power, 1), currents, voltages, soc)


def curve_for_session(
    *,
    rng: random.Random,
    charger_max_current_a: float,
    phases: int,
    duration_s: float | None,
    ramp_s: float = 4.0,
) -> ChargingCurve:
    """Return a vehicle for one session.

    With a planned duration the battery is sized so the whole curve (ramp, constant
    current, taper to full) fits in it: a short simulated session still looks like a real
    one, and energy stays the integral of power. Without one, a usual car battery.
    """
    soc = rng.uniform(0.15, 0.45)
    vehicle_limit = rng.choice((16.0, 24.0, 32.0))
    max_current = min(charger_max_current_a, vehicle_limit)
    taper_from = 0.8
    if duration_s:
        power_w = max_current * NOMINAL_VOLTAGE_V * phases
        # Constant current to `taper_from`, then about three time constants of taper.
        usable_s = max(1.0, 0.85 * duration_s - ramp_s / 2)
        capacity_wh = power_w * usable_s / 3600.0 / ((taper_from - soc) + 3 * (1 - taper_from))
    else:
        capacity_wh = rng.choice((40_000.0, 60_000.0, 77_000.0))
    return ChargingCurve(
        capacity_wh=capacity_wh,
        soc=soc,
        max_current_a=max_current,
        phases=phases,
        ramp_s=ramp_s,
        taper_from_soc=taper_from,
    )
