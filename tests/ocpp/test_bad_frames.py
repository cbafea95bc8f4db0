"""Bad frames over a real socket: each is answered with the right CALLERROR and the charger
stays connected; bad connections are refused at the handshake with an HTTP status and a
reason (a binary frame, once connected, closes the connection with a code and a reason).

A raw `websockets` client stands in for the charger so that it can send what no OCPP library
would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator

import pytest
import websockets
from asgiref.sync import sync_to_async
from ocpp.exceptions import FormationViolationError, FormatViolationError, OCPPError
from ocpp.v16 import call as v16_call
from ocpp.v21 import call as v21_call
from ocpp.v201 import call as v201_call
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.chargers.models import ChargingStation, DataTransfer
from apps.ocpp.models import MessageLog
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
NOW = "2024-01-02T03:04:05.000Z"
BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
START = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}

_ids = itertools.count(1)

DATA_TRANSFER = {
    "ocpp1.6": v16_call.DataTransfer,
    "ocpp2.0.1": v201_call.DataTransfer,
    "ocpp2.1": v21_call.DataTransfer,
}


@contextlib.asynccontextmanager
async def connect(
    ws_url: str, charger_id: str, subprotocols: list[str] | None = None
) -> AsyncIterator[ClientConnection]:
    """Open a raw websocket as `charger_id`, offering `subprotocols` (default: OCPP 1.6)."""
    offered = ["ocpp1.6"] if subprotocols is None else subprotocols
    async with websockets.connect(
        f"{ws_url}/ocpp/{charger_id}", subprotocols=offered or None, open_timeout=TIMEOUT
    ) as ws:
        yield ws


async def exchange(ws: ClientConnection, frame: str | bytes | list) -> list:
    """Send one frame and return the next frame received, decoded."""
    await ws.send(json.dumps(frame) if isinstance(frame, list) else frame)
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def assert_heartbeat_answered(ws: ClientConnection) -> None:
    message_id = f"hb-{next(_ids)}"

    reply = await exchange(ws, [2, message_id, "Heartbeat", {}])

    assert reply[:2] == [3, message_id]
    assert set(reply[2]) == {"currentTime"}


async def refused_with(
    ws_url: str, charger_id: str, subprotocols: list[str] | None = None
) -> tuple[int, str]:
    """Connect, expecting the handshake refused; return the HTTP status and the reason."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, charger_id, subprotocols):
            pass
    response = refused.value.response
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    return response.status_code, response.body.decode()


def call(message_id: str, action: str, payload: object) -> str:
    return json.dumps([2, message_id, action, payload])


# OCPP-J 1.6 spells FormatViolation "FormationViolation" (§4.2.3; the errata keep it).
V16_FORMAT_VIOLATION = "FormationViolation"

# (frame, the message id of the answer, its error code on OCPP 1.6)
BAD_FRAMES = [
    pytest.param('[2,"bad-json","Heartbeat",{', "bad-json", V16_FORMAT_VIOLATION, id="json-call"),
    pytest.param("hello, charger", "-1", V16_FORMAT_VIOLATION, id="json-garbage"),
    pytest.param('{"a": 1}', "-1", "ProtocolError", id="not-an-array"),
    pytest.param("[]", "-1", "ProtocolError", id="empty-array"),
    pytest.param('[9,"x","Heartbeat",{}]', "x", "ProtocolError", id="message-type-9"),
    pytest.param('[6,"send","Heartbeat",{}]', "send", "ProtocolError", id="send-on-16"),
    pytest.param('["2","st","Heartbeat",{}]', "st", "ProtocolError", id="message-type-string"),
    pytest.param('[2,"short","Heartbeat"]', "short", "ProtocolError", id="three-elements"),
    pytest.param('[2,17,"Heartbeat",{}]', "-1", "ProtocolError", id="message-id-int"),
    pytest.param(call("x" * 37, "Heartbeat", {}), "-1", "ProtocolError", id="message-id-37"),
    pytest.param(call("pl", "Heartbeat", []), "pl", V16_FORMAT_VIOLATION, id="payload-array"),
    pytest.param(call("ua", "FlyToTheMoon", {}), "ua", "NotImplemented", id="unknown-action"),
    pytest.param(call("ns", "Reset", {"type": "Soft"}), "ns", "NotSupported", id="unhandled"),
    pytest.param(
        call("req", "BootNotification", {"chargePointVendor": "V"}),
        "req",
        "OccurenceConstraintViolation",
        id="missing-required",
    ),
    pytest.param(
        call("typ", "StartTransaction", {**START, "connectorId": "one"}),
        "typ",
        "TypeConstraintViolation",
        id="wrong-type",
    ),
    pytest.param(
        call("len", "BootNotification", {**BOOT, "chargePointModel": "M" * 21}),
        "len",
        "PropertyConstraintViolation",
        id="too-long",
    ),
    pytest.param(
        call("enum", "StatusNotification", {**STATUS, "status": "Sleeping"}),
        "enum",
        "PropertyConstraintViolation",
        id="bad-enum",
    ),
    pytest.param(
        call("date", "StartTransaction", {**START, "timestamp": "yesterday"}),
        "date",
        "PropertyConstraintViolation",
        id="bad-date-time",
    ),
    pytest.param(
        call("extra", "BootNotification", {**BOOT, "colour": "red"}),
        "extra",
        V16_FORMAT_VIOLATION,
        id="extra-property",
    ),
]


@pytest.mark.parametrize(("frame", "message_id", "code"), BAD_FRAMES)
async def test_it_answers_a_bad_frame_and_keeps_the_connection(
    asgi_server, settings, frame: str, message_id: str, code: str
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-BAD") as ws:
        assert ws.subprotocol == "ocpp1.6"

        reply = await exchange(ws, frame)

        assert reply[:3] == [4, message_id, code]
        assert len(reply) == 5
        assert isinstance(reply[3], str) and reply[3]
        assert isinstance(reply[4], dict)
        await assert_heartbeat_answered(ws)


async def test_it_answers_bad_frames_one_after_another_on_one_connection(
    asgi_server, settings
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-MANY") as ws:
        for param in BAD_FRAMES:
            frame, message_id, code = param.values

            assert (await exchange(ws, frame))[:3] == [4, message_id, code], param.id

        await assert_heartbeat_answered(ws)


@pytest.mark.parametrize(
    ("subprotocol", "error"),
    [
        ("ocpp1.6", FormationViolationError),
        ("ocpp2.0.1", FormatViolationError),
        ("ocpp2.1", FormatViolationError),
    ],
)
async def test_it_spells_format_violation_as_each_version_names_it(
    asgi_server, settings, subprotocol: str, error: type[OCPPError]
) -> None:
    # The `ocpp` library's charger turns the code into its exception: 1.6's
    # FormationViolation (OCPP-J 1.6 §4.2.3, kept by the errata), 2.x's FormatViolation.
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MAX_FRAME_BYTES = 2048
    data_transfer = DATA_TRANSFER[subprotocol]
    async with connect_charger(asgi_server.ws_url, "CP-SPELL", subprotocol) as cp:
        with pytest.raises(OCPPError) as raised:
            await cp.call(data_transfer(vendor_id="V", data="a" * 3000), suppress=False)

    assert type(raised.value) is error
    assert "2048" in raised.value.description


async def test_it_names_the_schema_keyword_in_the_error_details(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-DETAILS") as ws:
        reply = await exchange(ws, call("m-1", "StatusNotification", {**STATUS, "status": "x"}))

    assert reply == [
        4,
        "m-1",
        "PropertyConstraintViolation",
        reply[3],
        {"keyword": "enum"},
    ]
    assert reply[3].startswith("StatusNotification: status: ")


async def test_it_refuses_calls_before_acceptance_but_lets_the_station_boot(
    asgi_server, settings
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "pending"
    async with connect(asgi_server.ws_url, "CP-PENDING") as ws:
        refused = await exchange(ws, [2, "hb-1", "Heartbeat", {}])
        boot = await exchange(ws, [2, "boot-1", "BootNotification", BOOT])
        refused_again = await exchange(ws, [2, "hb-2", "Heartbeat", {}])
        booted_again = await exchange(ws, [2, "boot-2", "BootNotification", BOOT])

    assert refused[:3] == [4, "hb-1", "SecurityError"]
    assert boot[:2] == [3, "boot-1"]
    assert boot[2]["status"] == "Pending"
    # Pending after the boot too: still not accepted, and still connected.
    assert refused_again[:3] == [4, "hb-2", "SecurityError"]
    assert booted_again[:2] == [3, "boot-2"]


@pytest.mark.parametrize(
    ("payload", "message_id"),
    [
        pytest.param({"vendorId": "V", "data": "a" * 3000}, "big", id="ascii"),
        # 1100 characters are 2200 bytes: the limit counts bytes.
        pytest.param({"vendorId": "V", "data": "é" * 1100}, "big-utf8", id="utf8"),
    ],
)
async def test_it_answers_an_oversized_frame_and_keeps_the_connection(
    asgi_server, settings, payload: dict, message_id: str
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MAX_FRAME_BYTES = 2048
    async with connect(asgi_server.ws_url, "CP-BIG") as ws:
        frame = json.dumps([2, message_id, "DataTransfer", payload], ensure_ascii=False)
        assert len(frame.encode()) > 2048

        reply = await exchange(ws, frame)

        assert reply[:3] == [4, message_id, V16_FORMAT_VIOLATION]
        assert "2048" in reply[3]
        await assert_heartbeat_answered(ws)


async def test_it_processes_a_frame_at_the_size_limit(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MAX_FRAME_BYTES = 2048
    async with connect(asgi_server.ws_url, "CP-LIMIT") as ws:
        frame = call("fits", "DataTransfer", {"vendorId": "V", "data": ""})
        frame = call("fits", "DataTransfer", {"vendorId": "V", "data": "a" * (2048 - len(frame))})
        assert len(frame.encode()) == 2048

        reply = await exchange(ws, frame)

    assert reply[:2] == [3, "fits"]


async def test_it_drops_an_oversized_frame_without_a_readable_id_and_stays_connected(
    asgi_server, settings
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MAX_FRAME_BYTES = 2048
    async with connect(asgi_server.ws_url, "CP-BIG-NOID") as ws:
        await ws.send(json.dumps({"junk": "a" * 3000}))

        # Replies come in order: the next one is the heartbeat's, nothing came for the junk.
        await assert_heartbeat_answered(ws)


@pytest.mark.parametrize(
    "frame", [b'[2,"bin-1","Heartbeat",{}]', b"\xff\xfe garbage"], ids=["json", "not-utf8"]
)
async def test_a_binary_frame_closes_the_connection_unsupported_data(
    asgi_server, settings, frame
) -> None:
    # OCPP-J frames are text frames; a binary one is RFC 6455's 1003 "unsupported data"
    # (4003: daphne lets an application send 1000 and 3000-4999 only).
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-BINARY") as ws:
        await assert_heartbeat_answered(ws)
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4003,
        "binary frames are not OCPP-J: text frames only",
    )
    station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-BINARY")
    assert not station.is_connected
    logged = await sync_to_async(list)(
        MessageLog.objects.filter(charger_id="CP-BINARY").values_list("action", flat=True)
    )
    assert logged == ["Heartbeat", "Heartbeat"]  # the binary frame was not processed


async def test_it_logs_the_bad_frame_and_the_callerror(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    bad_json = '[2,"log-1","Heartbeat",{'
    bad_schema = call("log-2", "BootNotification", {"chargePointVendor": "V"})
    async with connect(asgi_server.ws_url, "CP-LOG") as ws:
        await ws.send(bad_json)
        json_reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
        await ws.send(bad_schema)
        schema_reply = await asyncio.wait_for(ws.recv(), TIMEOUT)

    rows = await sync_to_async(list)(
        MessageLog.objects.filter(charger_id="CP-LOG")
        .order_by("id")
        .values_list("direction", "message_type", "message_id", "action", "frame")
    )
    assert rows == [
        ("in", None, "", "", bad_json),
        ("out", 4, "", "", json_reply),
        ("in", 2, "log-2", "BootNotification", bad_schema),
        ("out", 4, "log-2", "BootNotification", schema_reply),
    ]
    assert json.loads(json_reply)[:3] == [4, "log-1", V16_FORMAT_VIOLATION]
    assert json.loads(schema_reply)[:3] == [4, "log-2", "OccurenceConstraintViolation"]


# --- connections refused -----------------------------------------------------------------


@pytest.mark.parametrize(
    "charger_id",
    [
        pytest.param("C" * 49, id="49-chars"),
        pytest.param("CP:1", id="colon"),
        pytest.param("CP%3A1", id="encoded-colon"),
        pytest.param("CP%FF", id="not-utf8"),
    ],
)
async def test_it_refuses_an_invalid_charger_id_not_found(
    asgi_server, settings, charger_id: str
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    status, reason = await refused_with(asgi_server.ws_url, charger_id)

    assert status == 404
    assert "charger id" in reason
    assert not await sync_to_async(ChargingStation.objects.exists)()


async def test_it_accepts_a_48_character_charger_id(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "C" * 48) as ws:
        await assert_heartbeat_answered(ws)


@pytest.mark.parametrize(
    "offered",
    [
        pytest.param(["ocpp9.9"], id="unknown"),
        pytest.param(["OCPP1.6", "ocpp1.5"], id="near-misses"),
    ],
)
async def test_it_refuses_a_handshake_offering_no_served_subprotocol(
    asgi_server, settings, offered: list[str]
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    status, reason = await refused_with(asgi_server.ws_url, "CP-PROTO", offered)

    assert status == 400
    assert "subprotocol" in reason
    assert "ocpp1.6" in reason


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp2.1", "ocpp1.6", "ocpp2.0.1"], "ocpp2.1"),
        (["ocpp2.0.1"], "ocpp2.0.1"),
    ],
)
async def test_it_picks_the_newest_version_offered(asgi_server, settings, offered, chosen) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-NEWEST", offered) as ws:
        assert ws.subprotocol == chosen


async def test_it_picks_the_station_preferred_version(asgi_server, settings) -> None:
    from apps.chargers.models import ChargingStation

    settings.OCPP_UNKNOWN_STATIONS = "accept"
    await sync_to_async(ChargingStation.objects.create)(
        charger_id="CP-PREF", preferred_ocpp_version="ocpp1.6"
    )
    async with connect(asgi_server.ws_url, "CP-PREF", ["ocpp2.1", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_it_picks_ocpp16_among_other_offers(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect(asgi_server.ws_url, "CP-MIXED", ["ocpp9.9", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        await assert_heartbeat_answered(ws)


async def test_it_speaks_ocpp16_to_a_client_offering_no_subprotocol(asgi_server, settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_REQUIRE_SUBPROTOCOL = False
    async with connect(asgi_server.ws_url, "CP-NOPROTO", []) as ws:
        assert ws.subprotocol is None
        await assert_heartbeat_answered(ws)
        # Spelled the 1.6 way: 2.x would say MessageTypeNotSupported.
        assert (await exchange(ws, '[9,"x","Heartbeat",{}]'))[:3] == [4, "x", "ProtocolError"]

    station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-NOPROTO")
    assert station.ocpp_version == "ocpp1.6"


async def test_it_refuses_a_client_offering_no_subprotocol_when_one_is_required(
    asgi_server, settings
) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_REQUIRE_SUBPROTOCOL = True
    status, reason = await refused_with(asgi_server.ws_url, "CP-NOPROTO", [])

    assert status == 400
    assert "subprotocol" in reason


# --- payloads nested deeper than any stage takes ---------------------------------------------


def nested(depth: int) -> str:
    """`depth` arrays, one inside the other, around a 1."""
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize(
    ("subprotocol", "depth"),
    [
        pytest.param(subprotocol, depth, id=f"{subprotocol}-{depth}")
        for subprotocol in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
        # 255: orjson stops serialising; 1022: the frame is 1024 deep, orjson's parsing
        # limit; 1100: past it.
        for depth in (129, 255, 256, 1000, 1022, 1100)
    ],
)
async def test_it_answers_a_deeply_nested_payload_with_a_format_violation(
    asgi_server, settings, subprotocol: str, depth: int
) -> None:
    # Found in issue #14: a 2.x DataTransfer whose `data` (any JSON) nested 256 to 1024 deep
    # passed the schema, then broke the handler's serialiser: InternalError and a traceback.
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    charger_id = f"CP-DEEP-{subprotocol[4:].replace('.', '')}-{depth}"
    frame = f'[2,"deep-1","DataTransfer",{{"vendorId":"V","data":{nested(depth)}}}]'
    async with connect(asgi_server.ws_url, charger_id, [subprotocol]) as ws:
        reply = await exchange(ws, frame)
        expected = V16_FORMAT_VIOLATION if subprotocol == "ocpp1.6" else "FormatViolation"
        assert reply[:3] == [4, "deep-1", expected], reply
        assert "nested deeper than" in reply[3]
        await assert_heartbeat_answered(ws)

    def stored() -> tuple[list, bool]:
        rows = list(
            MessageLog.objects.filter(charger_id=charger_id)
            .order_by("id")
            .values_list("direction", "message_type", "frame")[:2]
        )
        return rows, DataTransfer.objects.filter(station__charger_id=charger_id).exists()

    rows, transfer_kept = await sync_to_async(stored)()
    # The frame and its answer are logged; nothing of the handler's was written.
    assert [(direction, text) for direction, _, text in rows] == [
        ("in", frame),
        ("out", json.dumps(reply, separators=(",", ":"))),
    ]
    assert not transfer_kept
