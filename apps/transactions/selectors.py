"""Reads of transactions: live figures (power now, energy so far) and a transaction's curves."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, Q

from apps.chargers.models import ChargingStation
from apps.chargers.tenancy import filter_by_station
from apps.transactions.models import MeterValue, Transaction
from apps.transactions.readings import ENERGY, POWER, combine

# How many active transactions the live pages show at most.
LIVE_TRANSACTIONS_SHOWN = 100


@dataclass(frozen=True)
class LiveTransaction:
    transaction: Transaction
    power_w: float | None
    register_wh: float | None

    @property
    def energy_wh(self) -> float | None:
        """Return the energy so far: the latest register reading less the meter start."""
        tx = self.transaction
        if tx.meter_stop_wh is not None and tx.meter_start_wh is not None:
            return float(tx.meter_stop_wh - tx.meter_start_wh)
        if self.register_wh is None or tx.meter_start_wh is None:
            return None
        return self.register_wh - tx.meter_start_wh


def latest_readings(*, transaction_ids: list[int], measurand: str) -> dict[int, float]:
    """Return, per transaction, its newest reading of `measurand` in base units (W, Wh)."""
    if not transaction_ids:
        return {}
    newest = (
        MeterValue.objects.filter(
            transaction_id__in=transaction_ids,
            measurand=measurand,
            normalized_value__isnull=False,
        )
        .values("transaction_id")
        .annotate(last=Max("timestamp"))
    )
    match = Q()
    for row in newest:
        match |= Q(transaction_id=row["transaction_id"], timestamp=row["last"])
    if not match:
        return {}
    readings: dict[int, list[tuple[str, float]]] = defaultdict(list)
    rows = MeterValue.objects.filter(match, measurand=measurand, normalized_value__isnull=False)
    for tx_id, phase, value in rows.values_list("transaction_id", "phase", "normalized_value"):
        readings[tx_id].append((phase, value))
    combined = {tx_id: combine(values) for tx_id, values in readings.items()}
    return {tx_id: value for tx_id, value in combined.items() if value is not None}


def live_transactions(
    *, station: ChargingStation | None = None, user: Any = None
) -> list[LiveTransaction]:
    """Return the active transactions, newest first, with their latest power and register.

    Power is a live figure: only a connected station's transaction has one. A station that
    is not connected (its server was restarted, its link is down) may be charging or not;
    its last reading says nothing about now, so its power is None (the transaction stays
    open and listed: the charger reports its end when it is back). The register, energy
    measured so far, is kept. With `user`, only the sessions at that user's stations.
    """
    queryset = Transaction.objects.filter(stopped_at__isnull=True).select_related(
        "station", "connector"
    )
    if station is not None:
        queryset = queryset.filter(station=station)
    if user is not None:
        queryset = filter_by_station(queryset, user)
    transactions = list(queryset.order_by("-started_at", "-id")[:LIVE_TRANSACTIONS_SHOWN])
    ids = [tx.pk for tx in transactions]
    power = latest_readings(transaction_ids=ids, measurand=POWER)
    register = latest_readings(transaction_ids=ids, measurand=ENERGY)
    return [
        LiveTransaction(
            tx, power.get(tx.pk) if tx.station.is_connected else None, register.get(tx.pk)
        )
        for tx in transactions
    ]


def live_transaction(*, transaction: Transaction) -> LiveTransaction:
    """Return one transaction with its latest power and energy register reading."""
    ids = [transaction.pk]
    power = latest_readings(transaction_ids=ids, measurand=POWER)
    register = latest_readings(transaction_ids=ids, measurand=ENERGY)
    return LiveTransaction(transaction, power.get(transaction.pk), register.get(transaction.pk))


@dataclass(frozen=True)
class Series:
    """Points (time, value) of one quantity over a transaction."""

    points: list[tuple[datetime, float]]
    unit: str


def transaction_series(*, transaction: Transaction) -> tuple[Series, Series]:
    """Return the transaction's power (W) and energy so far (Wh) over time."""
    by_time: dict[str, dict[datetime, list[tuple[str, float]]]] = {
        POWER: defaultdict(list),
        ENERGY: defaultdict(list),
    }
    rows = (
        MeterValue.objects.filter(
            transaction=transaction, measurand__in=[POWER, ENERGY], normalized_value__isnull=False
        )
        .order_by("timestamp")
        .values_list("measurand", "timestamp", "phase", "normalized_value")
    )
    for measurand, timestamp, phase, value in rows:
        by_time[measurand][timestamp].append((phase, value))

    def points(measurand: str) -> list[tuple[datetime, float]]:
        combined = ((when, combine(values)) for when, values in by_time[measurand].items())
        return [(when, value) for when, value in combined if value is not None]

    energy = points(ENERGY)
    start = transaction.meter_start_wh
    if start is None and energy:
        start = energy[0][1]
    if start is not None:
        energy = [(when, value - start) for when, value in energy]
    return Series(points(POWER), "W"), Series(energy, "Wh")
