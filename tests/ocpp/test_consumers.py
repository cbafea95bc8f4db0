"""Opening a charger connection: the one database job; the command sender's and poller's lives."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.commands.models import ChargerCommand, CommandStatus
from apps.ocpp import local, opening
from apps.ocpp.consumers import OcppConsumer
from apps.protocol.handshake import Credentials
from tests.commands.helpers import command
from tests.ocpp.charger import connect_v16

NO_CREDENTIALS = Credentials(peer_ip="127.0.0.1")


def held(station_id: int) -> Any:
    """The connection of this process serving the station (on the live server's loop)."""
    connections = [here.by_station.get(station_id) for here in tuple(local._loops.values())]
    return next(connection for connection in connections if connection is not None)


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
    found = opening.admit("OPEN-1", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert found.connection is not None
    stored = ChargingStation.objects.get(pk=station.pk)
    assert stored.is_connected
    assert stored.connection_id == found.connection.connection_id != "gone"


@pytest.mark.django_db
def test_beside_other_processes_a_station_marked_connected_is_not_opened_blindly(unsecured):
    station = stale_station("OPEN-2")
    found = opening.admit("OPEN-2", NO_CREDENTIALS, ["ocpp1.6"], single_process=False)
    assert found.admission.allowed and found.version is not None
    assert found.connection is None  # the consumer asks the other processes first
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
    found = opening.admit("OPEN-3", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert found.pending == [first.pk, second.pk]


@pytest.mark.django_db
def test_opening_without_pending_commands_hands_over_none(unsecured):
    found = opening.admit("OPEN-4", NO_CREDENTIALS, ["ocpp1.6"], single_process=True)
    assert found.connection is not None
    assert found.pending == []


@pytest.mark.django_db(transaction=True)
async def test_the_command_sender_runs_only_while_there_are_commands(asgi_server, unsecured):
    async with connect_v16(asgi_server.ws_url, "OPEN-SENDER") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="OPEN-SENDER")
        consumer = held(station.pk)
        assert consumer._outbox is None  # connected and booted: no queue, no task yet
        done = await command(asgi_server, "OPEN-SENDER", "ClearCache", {})
        assert done.status == "accepted"
        assert cp.received["ClearCache"] == [{}]
        deadline = time.monotonic() + 5
        while consumer._outbox.sending:  # it ends once the queue is empty
            assert time.monotonic() < deadline, "the sender did not end"
            await asyncio.sleep(0.01)
        # ... and the next command starts it again.
        again = await command(asgi_server, "OPEN-SENDER", "ClearCache", {})
        assert again.status == "accepted"
        assert cp.received["ClearCache"] == [{}, {}]


@pytest.mark.django_db(transaction=True)
async def test_the_command_poll_lives_while_the_loop_holds_connections(asgi_server, unsecured):
    async with connect_v16(asgi_server.ws_url, "POLL-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="POLL-1")
        poller = local._loops[asgi_server.loop].poller
        assert poller is not None and not poller.done()
        # A command stored with no channel-layer message (sent by a process that could not
        # reach the layer): the poll finds it and hands it to the connection.
        await sync_to_async(ChargerCommand.objects.create)(
            station=station, action="ClearCache", timeout_s=5
        )
        deadline = time.monotonic() + 10
        while not cp.received["ClearCache"]:
            assert time.monotonic() < deadline, "the poll did not deliver the command"
            await asyncio.sleep(0.05)
    # The loop's last connection gone, its poll is cancelled: no task outlives the loop.
    deadline = time.monotonic() + 5
    while asgi_server.loop in local._loops or not poller.done():
        assert time.monotonic() < deadline, "the poll outlived the loop's connections"
        await asyncio.sleep(0.01)
    assert poller.cancelled()


@pytest.mark.django_db(transaction=True)
async def test_a_connection_whose_task_is_cancelled_lets_go_of_its_station_and_poll(
    asgi_server, unsecured
):
    """A server shutting down may cancel a consumer with no disconnect: nothing outlives it."""
    loop = asgi_server.loop
    deadline = time.monotonic() + 5
    while loop in local._loops:  # the connections of other tests are gone
        assert time.monotonic() < deadline, "connections of other tests linger"
        await asyncio.sleep(0.01)

    async def scenario() -> None:  # on the server's loop, whose channel layer it uses
        client = WebsocketCommunicator(
            OcppConsumer.as_asgi(), "/ocpp/CANCELLED", subprotocols=["ocpp1.6"]
        )
        connected, subprotocol = await client.connect()
        assert connected and subprotocol == "ocpp1.6"
        await client.send_to(text_data='[2, "hb", "Heartbeat", {}]')
        assert json.loads(await client.receive_from(timeout=5))[:2] == [3, "hb"]
        poller = local._loops[loop].poller
        assert poller is not None
        client.future.cancel()  # waiting for the next frame: no disconnect will come
        deadline = loop.time() + 5
        while loop in local._loops:
            assert loop.time() < deadline, "the cancelled connection is still registered"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        assert poller.cancelled()
        # The task ends once its channel-layer listener has (Redis may take a while).
        await asyncio.wait({client.future}, timeout=15)

    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(scenario(), loop))
