"""Sockets that end badly, over real sockets under uvicorn (start.sh's default server).

A charger whose TCP connection is reset while the server sends to it, and a flooder: every
way a socket ends marks the station disconnected, and refused frames cost no database work.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import time
from collections.abc import Callable

import pytest
import websockets
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation, SecurityProfile
from apps.commands.models import CommandStatus
from apps.commands.services import send_command
from apps.ocpp.models import MessageLog
from apps.security.models import SecurityEvent
from apps.security.services import station_password_set

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def until(check: Callable[[], bool], what: str, within: float = TIMEOUT) -> None:
    """Wait until the database says `check()`, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while not await db(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


def connected(charger_id: str) -> bool:
    return ChargingStation.objects.get(charger_id=charger_id).is_connected


async def station(charger_id: str, profile: int) -> dict[str, str]:
    """A station of `profile`; the headers it connects with."""

    def make() -> dict[str, str]:
        station = ChargingStation.objects.create(
            charger_id=charger_id, registration_status="Accepted", security_profile=profile
        )
        if profile == SecurityProfile.NONE:
            return {}
        password = station_password_set(station=station)
        token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    return await db(make)


def open_socket(url: str, headers: dict[str, str]):
    return websockets.connect(
        url, subprotocols=["ocpp1.6"], additional_headers=headers, open_timeout=TIMEOUT
    )


async def send_and_reset(url: str, headers: dict[str, str]) -> None:
    """Send one Heartbeat and reset the TCP connection at once (SO_LINGER 0), unread."""
    ws = await open_socket(url, headers)
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
    ws.transport.abort()


async def served(url: str, headers: dict[str, str]) -> bool:
    async with open_socket(url, headers) as ws:
        await ws.send(json.dumps([2, "hb-2", "Heartbeat", {}]))
        return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))[:2] == [3, "hb-2"]


@pytest.mark.parametrize("profile", [SecurityProfile.NONE, SecurityProfile.BASIC])
async def test_a_connection_reset_while_the_server_answers_is_a_disconnect(
    asgi_server, settings, profile
):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    charger_id = f"LOST-RESET-{profile}"
    headers = await station(charger_id, profile)
    url = f"{asgi_server.ws_url}/ocpp/{charger_id}"

    for _ in range(3):
        await send_and_reset(url, headers)
        await until(lambda: not connected(charger_id), "the reset socket marked disconnected")

    # A command for it is offline at once, not handed to a ghost.
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False
    reset_station = await db(ChargingStation.objects.get, charger_id=charger_id)
    command = await db(send_command, station=reset_station, action="ClearCache", payload={})
    assert command.status == CommandStatus.OFFLINE

    # The station comes back: no ghost holds it, authenticated or not.
    assert await served(url, headers)
    await until(lambda: not connected(charger_id), "the closed socket marked disconnected")


async def test_refused_frames_of_a_flood_write_nothing_per_frame(asgi_server, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MESSAGES_PER_SECOND = 2
    charger_id = "LOST-FLOOD"
    frames = 200
    async with open_socket(f"{asgi_server.ws_url}/ocpp/{charger_id}", {}) as ws:
        for n in range(frames):
            await ws.send(json.dumps([2, f"f{n}", "Heartbeat", {}]))
        replies = [json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) for _ in range(frames)]
    served = [reply for reply in replies if reply[0] == 3]
    refused = [reply for reply in replies if reply[0] == 4]
    assert len(served) + len(refused) == frames
    assert refused and all(reply[2] == "SecurityError" for reply in refused)

    logged = await db(MessageLog.objects.filter(charger_id=charger_id).count)
    assert logged == 2 * len(served)  # a served Heartbeat and its answer; nothing refused
    events = await db(
        lambda: list(
            SecurityEvent.objects.filter(charger_id=charger_id).values_list(
                "event_type", "tech_info"
            )
        )
    )
    assert len(events) == 1 and events[0][0] == "RateLimitExceeded"
    assert events[0][1] == "over 2 messages per second: 1 frame(s) refused"  # the first one


@pytest.fixture
def pinging_server(django_db_setup, django_db_blocker):
    """A uvicorn server that pings every 0.2 s and closes a socket whose pong is 0.5 s late."""
    from tests.conftest import LiveServer

    server = LiveServer()
    server.server.config.ws_ping_interval = 0.2
    server.server.config.ws_ping_timeout = 0.5
    server.start()
    yield server
    server.stop()


async def test_a_flooder_that_never_reads_is_closed_by_ping_timeout_and_disconnected(
    pinging_server, settings
):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MESSAGES_PER_SECOND = 2
    charger_id = "LOST-DEAF-FLOOD"
    frame = json.dumps([2, "f", "Heartbeat", {"pad": "x" * 2000}])
    # It never reads: its client stops reading the socket once 16 frames wait (max_queue),
    # so it answers no ping, and the server's answers pile up unread.
    ws = await open_socket(f"{pinging_server.ws_url}/ocpp/{charger_id}", {})
    await until(lambda: connected(charger_id), "the flooder connected")
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(TIMEOUT):
            while True:
                await ws.send(frame)
    await until(lambda: not connected(charger_id), "the flooder marked disconnected")
    await ws.close()
