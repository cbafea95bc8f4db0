"""Reads for the control center: what the dashboard, the station and transaction pages show."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from apps.chargers.models import ChargingStation, Connector
from apps.chargers.tenancy import filter_by_station, stations_visible_to
from apps.commands.models import ChargerCommand, CommandStatus
from apps.dashboard.models import Favorite
from apps.ocpp.models import MessageLog
from apps.security.models import SecurityEvent
from apps.transactions.models import Transaction
from apps.transactions.readings import ENERGY
from apps.transactions.selectors import latest_readings

# Command outcomes the dashboard lists as failures.
FAILED_STATUSES = (
    CommandStatus.ERROR,
    CommandStatus.TIMEOUT,
    CommandStatus.OFFLINE,
    CommandStatus.REJECTED,
)
# How many events and failures the dashboard shows at most.
DASHBOARD_EVENTS = 10


def dashboard_stations(*, user: Any) -> list[ChargingStation]:
    """Return the user's stations with their connectors (not connector 0, the station itself)."""
    connectors = Connector.objects.filter(connector_id__gt=0).order_by("connector_id")
    return list(
        stations_visible_to(user)
        .prefetch_related(Prefetch("connectors", queryset=connectors, to_attr="live_connectors"))
        .order_by("charger_id")
    )


def recent_security_events(*, user: Any, limit: int = DASHBOARD_EVENTS) -> list[SecurityEvent]:
    events = filter_by_station(SecurityEvent.objects.all(), user)
    return list(events.order_by("-occurred_at", "-id")[:limit])


def recent_failed_commands(*, user: Any, limit: int = DASHBOARD_EVENTS) -> list[ChargerCommand]:
    return list(
        filter_by_station(ChargerCommand.objects.all(), user)
        .filter(status__in=FAILED_STATUSES)
        .select_related("station")
        .order_by("-created_at", "-id")[:limit]
    )


def station_transactions(*, station: ChargingStation, limit: int = 20) -> list[Transaction]:
    """Return the station's latest transactions, newest first.

    Each has `energy_so_far_wh`: the energy delivered, measured so far for a running one
    (its latest register reading less its meter start), as the dashboard shows it.
    """
    transactions = list(
        Transaction.objects.filter(station=station)
        .select_related("connector")
        .order_by("-started_at", "-id")[:limit]
    )
    running = [tx.pk for tx in transactions if tx.stopped_at is None]
    register = latest_readings(transaction_ids=running, measurand=ENERGY) if running else {}
    for tx in transactions:
        energy = tx.energy_wh
        if energy is None and tx.pk in register and tx.meter_start_wh is not None:
            energy = register[tx.pk] - tx.meter_start_wh
        tx.energy_so_far_wh = energy
    return transactions


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
