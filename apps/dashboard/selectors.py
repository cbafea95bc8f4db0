"""Reads for the control center: what the dashboard, the station and transaction pages show."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Prefetch, Q

from apps.chargers.models import ChargingStation, Connector
from apps.commands.models import ChargerCommand, CommandStatus
from apps.dashboard.models import Favorite
from apps.ocpp.models import MessageLog
from apps.security.models import SecurityEvent
from apps.transactions.models import MeterValue, Transaction
from apps.transactions.readings import ENERGY, POWER, combine

# Command outcomes the dashboard lists as failures.
FAILED_STATUSES = (
    CommandStatus.ERROR,
    CommandStatus.TIMEOUT,
    CommandStatus.OFFLINE,
    CommandStatus.REJECTED,
)
# How many active transactions, events and failures the dashboard shows at most.
DASHBOARD_TRANSACTIONS = 100
DASHBOARD_EVENTS = 10


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


def dashboard_stations() -> list[ChargingStation]:
    """Return every station with its connectors (not connector 0, the station itself)."""
    connectors = Connector.objects.filter(connector_id__gt=0).order_by("connector_id")
    return list(
        ChargingStation.objects.prefetch_related(
            Prefetch("connectors", queryset=connectors, to_attr="live_connectors")
        ).order_by("charger_id")
    )


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


def live_transactions(*, station: ChargingStation | None = None) -> list[LiveTransaction]:
    """Return the active transactions, newest first, with their latest power and register."""
    queryset = Transaction.objects.filter(stopped_at__isnull=True).select_related(
        "station", "connector"
    )
    if station is not None:
        queryset = queryset.filter(station=station)
    transactions = list(queryset.order_by("-started_at", "-id")[:DASHBOARD_TRANSACTIONS])
    ids = [tx.pk for tx in transactions]
    power = latest_readings(transaction_ids=ids, measurand=POWER)
    register = latest_readings(transaction_ids=ids, measurand=ENERGY)
    return [LiveTransaction(tx, power.get(tx.pk), register.get(tx.pk)) for tx in transactions]


def live_transaction(*, transaction: Transaction) -> LiveTransaction:
    """Return one transaction with its latest power and energy register reading."""
    ids = [transaction.pk]
    power = latest_readings(transaction_ids=ids, measurand=POWER)
    register = latest_readings(transaction_ids=ids, measurand=ENERGY)
    return LiveTransaction(transaction, power.get(transaction.pk), register.get(transaction.pk))


def recent_security_events(*, limit: int = DASHBOARD_EVENTS) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.order_by("-occurred_at", "-id")[:limit])


def recent_failed_commands(*, limit: int = DASHBOARD_EVENTS) -> list[ChargerCommand]:
    return list(
        ChargerCommand.objects.filter(status__in=FAILED_STATUSES)
        .select_related("station")
        .order_by("-created_at", "-id")[:limit]
    )


def station_transactions(*, station: ChargingStation, limit: int = 20) -> list[Transaction]:
    """Return the station's latest transactions, newest first."""
    return list(
        Transaction.objects.filter(station=station)
        .select_related("connector")
        .order_by("-started_at", "-id")[:limit]
    )


def message_log_actions(*, charger_id: str) -> list[str]:
    """Return the actions seen in the charger's message log, for the log filter."""
    return sorted(
        set(
            MessageLog.objects.filter(charger_id=charger_id)
            .exclude(action="")
            .values_list("action", flat=True)
            .distinct()
        )
    )


def user_favorites(*, user_id: int) -> list[Favorite]:
    return list(Favorite.objects.filter(user_id=user_id).order_by("position", "id"))


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
