"""Live figures of meter readings: the latest power and energy register, over the phases."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.transactions.readings import summarize_samples
from apps.transactions.samples import SampledValue

T10 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
T11 = datetime(2025, 1, 1, 10, 1, tzinfo=UTC)
POWER = "Power.Active.Import"


def test_meter_samples_are_summed_over_phases_and_the_newest_wins():
    samples = [
        SampledValue(timestamp=T10, value="9", measurand=POWER, unit="kW"),
        SampledValue(timestamp=T11, value="1000", measurand=POWER, phase="L1", unit="W"),
        SampledValue(timestamp=T11, value="1100", measurand=POWER, phase="L2", unit="W"),
        SampledValue(timestamp=T11, value="230", measurand="Voltage", phase="L1-N"),
        SampledValue(timestamp=T11, value="12.5", unit="kWh"),
    ]
    assert summarize_samples(samples) == (2100.0, 12500.0)


def test_no_figure_without_a_readable_sample():
    assert summarize_samples([]) == (None, None)
    samples = [
        SampledValue(timestamp=T10, value="AB12", format="SignedData"),
        SampledValue(timestamp=T10, value="n/a", measurand=POWER),
        SampledValue(timestamp=T10, value="1", measurand=POWER, multiplier=400),  # overflows
        SampledValue(timestamp=T10, value="5", measurand="SoC"),
    ]
    assert summarize_samples(samples) == (None, None)


def test_a_multiplier_scales_the_value():
    samples = [SampledValue(timestamp=T10, value="7.4", measurand=POWER, multiplier=3)]
    assert summarize_samples(samples) == (7400.0, None)
