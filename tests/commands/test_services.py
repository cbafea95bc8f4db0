"""pending_command_ids: what the poll and a new connection hand to the sender."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.chargers.models import ChargingStation
from apps.commands import services
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import pending_command_ids
from apps.core.timeutil import utcnow

pytestmark = pytest.mark.django_db


def test_it_returns_the_pending_commands_of_the_stations_asked_oldest_first(monkeypatch):
    monkeypatch.setattr(services, "PENDING_CHUNK", 2)  # five stations: three statements
    stations = [ChargingStation.objects.create(charger_id=f"PEND-{n}") for n in range(6)]
    now = utcnow()
    expected = []
    for age, station in zip([3, 5, 1, 4, 2], stations[:5], strict=True):
        command = ChargerCommand.objects.create(station=station, action="Reset", timeout_s=5)
        ChargerCommand.objects.filter(pk=command.pk).update(created_at=now - timedelta(minutes=age))
        expected.append((age, station.pk, command.pk))
    ChargerCommand.objects.create(
        station=stations[0], action="Reset", timeout_s=5, status=CommandStatus.ACCEPTED
    )
    ChargerCommand.objects.create(station=stations[5], action="Reset", timeout_s=5)  # not asked
    found = pending_command_ids(station_ids=[station.pk for station in stations[:5]])
    assert found == [(pk, command) for _, pk, command in sorted(expected, reverse=True)]


def test_equal_times_go_by_id():
    station = ChargingStation.objects.create(charger_id="PEND-EQ")
    first, second = (
        ChargerCommand.objects.create(station=station, action=a, timeout_s=5)
        for a in ("ClearCache", "Reset")
    )
    ChargerCommand.objects.filter(station=station).update(created_at=utcnow())
    assert pending_command_ids(station_ids=[station.pk]) == [
        (station.pk, first.pk),
        (station.pk, second.pk),
    ]


def test_no_stations_no_commands():
    assert pending_command_ids(station_ids=[]) == []
