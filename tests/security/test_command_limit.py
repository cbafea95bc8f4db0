"""A command refused for too many outstanding is a security event (signalled by commands)."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.chargers.models import ChargingStation
from apps.commands.services import CommandError, send_command
from apps.commands.signals import command_limit_reached
from apps.security.models import SecurityEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_station(settings) -> ChargingStation:
    settings.OCPP_MAX_OUTSTANDING_COMMANDS = 1
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    station = ChargingStation.objects.create(charger_id="SEC-LIMIT")
    send_command(station=station, action="ClearCache", payload={})
    return station


def test_it_records_one_command_limit_reached_event(full_station):
    with pytest.raises(CommandError, match="already waiting"):
        send_command(station=full_station, action="Reset", payload={"type": "Soft"})
    [event] = SecurityEvent.objects.all()
    assert (event.event_type, event.source, event.charger_id, event.station_id) == (
        "CommandLimitReached",
        SecurityEvent.Source.CSMS,
        "SEC-LIMIT",
        full_station.pk,
    )
    assert event.tech_info == "1 commands outstanding; Reset refused"


def test_the_event_is_written_in_the_caller_s_transaction(full_station):
    with pytest.raises(RuntimeError), transaction.atomic():
        with pytest.raises(CommandError):
            send_command(station=full_station, action="Reset", payload={"type": "Soft"})
        assert SecurityEvent.objects.count() == 1
        raise RuntimeError("roll back")
    assert not SecurityEvent.objects.exists()


def test_security_listens_once():
    assert len(command_limit_reached.receivers) == 1
