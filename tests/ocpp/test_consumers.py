"""Opening a charger connection: the one database job, and the command sender's life."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.commands.models import ChargerCommand, CommandStatus
from apps.ocpp import consumers
from apps.protocol.handshake import Credentials
from tests.commands.helpers import command
from tests.ocpp.charger import connect_v16

NO_CREDENTIALS = Credentials(peer_ip="127.0.0.1")


@pytest.fixture
def unsecured(settings):
    settings.OCPP_ALLOW_UNSECURED = True
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def stale_station(charger_id: str) -> ChargingStation:
    """A station the database says is connected, though no connection holds it."""
    return ChargingStation.objects.create(
        charger_id=charger_id,
        registration_status=RegistrationStatus.ACCEPTED,
        is_connected=True,
        connection_id="gone",
    )


@pytest.mark.django_db
def test_alone_a_process_opens_a_station_it_does_not_hold_in_the_same_job(unsecured):
    station = stale_station("OPEN-1")
    opening = consumers._open("OPEN-1", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert opening.session is not None
    stored = ChargingStation.objects.get(pk=station.pk)
    assert stored.is_connected
    assert stored.connection_id == opening.session.connection_id != "gone"


@pytest.mark.django_db
def test_beside_other_processes_a_station_marked_connected_is_not_opened_blindly(unsecured):
    station = stale_station("OPEN-2")
    opening = consumers._open("OPEN-2", NO_CREDENTIALS, ["ocpp1.6"], single_process=False)
    assert opening.admission.allowed and opening.version is not None
    assert opening.session is None  # the consumer asks the other processes first
    assert ChargingStation.objects.get(pk=station.pk).connection_id == "gone"


@pytest.mark.django_db
def test_opening_hands_over_the_pending_commands_oldest_first(unsecured):
    station = ChargingStation.objects.create(
        charger_id="OPEN-3", registration_status=RegistrationStatus.ACCEPTED
    )
    first, second = (
        ChargerCommand.objects.create(station=station, action=action, timeout_s=5)
        for action in ("ClearCache", "Reset")
    )
    ChargerCommand.objects.create(
        station=station, action="Reset", timeout_s=5, status=CommandStatus.ACCEPTED
    )
    opening = consumers._open("OPEN-3", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert opening.pending == [first.pk, second.pk]


@pytest.mark.django_db
def test_opening_without_pending_commands_hands_over_none(unsecured):
    opening = consumers._open("OPEN-4", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert opening.session is not None
    assert opening.pending == []


@pytest.mark.django_db(transaction=True)
async def test_the_command_sender_runs_only_while_there_are_commands(asgi_server, unsecured):
    async with connect_v16(asgi_server.ws_url, "OPEN-SENDER") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="OPEN-SENDER")
        consumer = consumers._LOCAL[station.pk]
        assert consumer._sender is None  # connected and booted: no task yet
        done = await command(asgi_server, "OPEN-SENDER", "ClearCache", {})
        assert done.status == "accepted"
        assert cp.received["ClearCache"] == [{}]
        deadline = time.monotonic() + 5
        while not consumer._sender.done():  # it ends once the queue is empty
            assert time.monotonic() < deadline, "the sender did not end"
            await asyncio.sleep(0.01)
        # ... and the next command starts it again.
        again = await command(asgi_server, "OPEN-SENDER", "ClearCache", {})
        assert again.status == "accepted"
        assert cp.received["ClearCache"] == [{}, {}]
