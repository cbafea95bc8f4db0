"""Meter readings as the stations send them, and how they are stored (both OCPP versions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.core.batch import insert_rows
from apps.transactions import statements
from apps.transactions.models import MeterValue
from apps.transactions.units import normalize


@dataclass(frozen=True)
class SampledValue:
    timestamp: datetime
    value: str
    measurand: str = ""
    phase: str = ""
    unit: str = ""
    context: str = ""
    location: str = ""
    format: str = ""
    multiplier: int = 0


# OCPP 2.x allows units of 20 characters, more than these columns hold: the value and the
# multiplier are kept whole, only a custom unit's name is cut.
_UNIT_LENGTH = MeterValue._meta.get_field("unit").max_length
_NORMALIZED_UNIT_LENGTH = MeterValue._meta.get_field("normalized_unit").max_length
_MULTIPLIERS = range(-(2**15), 2**15)  # the column is a SmallIntegerField


def samples_store(
    station_id: int,
    connector_id: int,
    tx_pk: int | statements.Lookup | None,
    samples: list[SampledValue],
) -> None:
    """Store readings at the end of the batch; refuse here what no column could hold.

    Rows go in with the whole group-commit batch: one the database refused there would fail
    every job of the batch, so anything unstorable fails this message now, alone.
    """
    if not samples:
        return
    rows = []
    for sample in samples:
        if sample.multiplier not in _MULTIPLIERS:
            raise ValueError(f"multiplier {sample.multiplier} is out of range")
        measurand = sample.measurand or "Energy.Active.Import.Register"
        try:
            value, unit = normalize(
                measurand, sample.unit, sample.value, sample.format, sample.multiplier
            )
        except OverflowError:  # 10 ** multiplier beyond a float: kept raw, not normalised
            value, unit = None, ""
        rows.append(
            {  # MeterValue fields: a dict is cheaper than an instance (batch.insert_rows)
                "station_id": station_id,
                "connector_id": connector_id,
                "transaction_id": tx_pk,
                "timestamp": sample.timestamp,
                "measurand": measurand,
                "phase": sample.phase,
                "unit": sample.unit[:_UNIT_LENGTH],
                "context": sample.context,
                "location": sample.location,
                "format": sample.format,
                "value": sample.value,
                "multiplier": sample.multiplier,
                "normalized_value": value,
                "normalized_unit": unit[:_NORMALIZED_UNIT_LENGTH],
            }
        )
    # The unique sample constraint turns a replayed reading into a no-op.
    insert_rows(MeterValue, rows, ignore_conflicts=True)
