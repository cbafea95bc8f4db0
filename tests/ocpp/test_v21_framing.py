"""OCPP 2.1 framing over a real socket: CALLRESULTERROR (type 5) and SEND (type 6)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation
from apps.commands.services import send_command
from apps.ocpp.models import MessageLog
from tests.commands.helpers import wait_final

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = {"id": 1, "pending": 0, "basetime": "2026-11-27T10:00:00Z", "data": [{"t": 0, "v": "1"}]}


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


async def heartbeat_answered(ws, message_id: str = "hb") -> None:
    await ws.send(json.dumps([2, message_id, "Heartbeat", {}]))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert reply[0] == 3 and reply[1] == message_id


async def nothing_arrives(ws) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.5)


async def logged(charger_id: str) -> list[tuple]:
    return await sync_to_async(
        lambda: list(
            MessageLog.objects.filter(charger_id=charger_id)
            .order_by("created_at", "id")
            .values_list("direction", "message_type", "action")
        )
    )()


async def test_a_callresulterror_is_logged_and_not_answered(asgi_server):
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/V21-CRE", subprotocols=["ocpp2.1"]
    ) as ws:
        await ws.send(json.dumps([5, "our-answer", "FormatViolation", "bad result", {}]))
        await nothing_arrives(ws)
        await heartbeat_answered(ws)
    assert (("in", 5, "")) in await logged("V21-CRE")


async def test_a_send_is_processed_without_an_answer(asgi_server):
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/V21-SEND", subprotocols=["ocpp2.1"]
    ) as ws:
        await ws.send(json.dumps([6, "s-1", "NotifyPeriodicEventStream", STREAM]))
        await nothing_arrives(ws)
        await heartbeat_answered(ws)
    assert ("in", 6, "NotifyPeriodicEventStream") in await logged("V21-SEND")


async def test_send_is_not_a_message_type_of_201(asgi_server):
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/V201-SEND", subprotocols=["ocpp2.0.1"]
    ) as ws:
        await ws.send(json.dumps([6, "s-1", "NotifyPeriodicEventStream", STREAM]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert reply[:3] == [4, "s-1", "MessageTypeNotSupported"]


@pytest.mark.parametrize(("version", "complaint"), [("ocpp2.1", True), ("ocpp2.0.1", False)])
async def test_an_invalid_callresult_gets_a_callresulterror_on_21(asgi_server, version, complaint):
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/BAD-RESULT", subprotocols=[version]
    ) as ws:
        await heartbeat_answered(ws)  # the connection is set up server-side
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="BAD-RESULT")
        sent = await asgi_server.run(send_command, station=station, action="ClearCache", payload={})
        call = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert call[:3] == [2, call[1], "ClearCache"]
        await ws.send(json.dumps([3, call[1], {"status": 42}]))
        done = await wait_final(sent.pk)
        if complaint:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply[:3] == [5, call[1], "TypeConstraintViolation"]
        else:
            await nothing_arrives(ws)
    assert (done.status, done.error_code) == ("error", "TypeConstraintViolation")
