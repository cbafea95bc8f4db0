"""Resource limits at the edge, against the server as start.sh runs it (config/serve.py).

Real server processes, real sockets from other loopback addresses (127.0.0.2, ...), chargers
over real websockets: stalled handshakes, one address holding many connections, and huge
frames (issue #14, item 7; docs/robustness.md, "Limits at the edge").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from config.serve import ws_max_size
from tests.faults.processes import Server, eventually

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
STALLED = 2000
# The soft open-file limit most systems give a process.
COMMON_NOFILE = 1024
DEFAULT_MAX_FRAME_BYTES = 64 * 1024
NO_PROXY = {"http": "", "https": ""}
BOOT = [
    2,
    "boot-1",
    "BootNotification",
    {"chargePointVendor": "Edge", "chargePointModel": "Limits"},
]


@pytest.fixture
def many_files() -> Iterator[None]:
    """This test process may open a few thousand sockets: its soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = STALLED + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-file limit ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_from(source: str, port: int, send: bytes = b"") -> socket.socket:
    """A TCP connection to the server from `source`, that sends `send` and then nothing."""
    sock = socket.socket()
    try:
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        if send:
            sock.sendall(send)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection (end of stream or reset); never blocks."""
    poller = select.poll()  # select() takes no descriptor past 1023
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except BlockingIOError:
        return False


def still_open(socks: list[socket.socket]) -> list[socket.socket]:
    return [sock for sock in socks if not closed_by_server(sock)]


def get_over(sock: socket.socket, path: str = "/healthz") -> bytes:
    """Send a whole GET on an open connection; the first bytes of the answer."""
    sock.setblocking(True)
    sock.settimeout(15)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock.recv(64)


async def boot(ws_url: str, charger_id: str, **kwargs: object) -> list:
    """A charger connects, sends BootNotification and returns the answer."""
    async with websockets.connect(
        f"{ws_url}/ocpp/{charger_id}", subprotocols=["ocpp1.6"], open_timeout=15, **kwargs
    ) as ws:
        await ws.send(json.dumps(BOOT))
        return json.loads(await asyncio.wait_for(ws.recv(), 15))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def test_stalled_handshakes_starve_neither_healthz_nor_chargers(
    make_server, sqlite_url, many_files
) -> None:
    server: Server = make_server(
        sqlite_url, "uvicorn", nofile=COMMON_NOFILE, OCPP_HANDSHAKE_TIMEOUT="10"
    )
    server.start()
    limits = Path(f"/proc/{server.pid}/limits").read_text()
    assert f"Max open files            {COMMON_NOFILE}" in limits, limits

    # Twice the server's file descriptors: half send nothing, half half a request.
    stalled: list[socket.socket] = []
    try:
        for n in range(STALLED):
            half = b"GET /ocpp/STALLED HTTP/1.1\r\nHost: 127.0.0.1\r\n" if n % 2 else b""
            stalled.append(open_from("127.0.0.2", server.port, half))

        health = requests.get(f"{server.http_url}/healthz", timeout=15, proxies=NO_PROXY)
        assert health.status_code == 200, health.text
        reply = asyncio.run(boot(server.ws_url, "EDGE-STALLED-1"))
        assert reply[:2] == [3, "boot-1"] and reply[2]["status"] == "Accepted", reply

        # The address kept its connections up to the cap, the rest were closed at once ...
        held = still_open(stalled)
        assert 0 < len(held) <= 500, len(held)
        # ... and the server closes those too once the handshake timeout has passed.
        eventually(lambda: not still_open(held), 60, "the server closed the stalled sockets")
    finally:
        close_all(stalled)
    # Nothing of it is left in the way.
    assert asyncio.run(boot(server.ws_url, "EDGE-STALLED-2"))[:2] == [3, "boot-1"]


def test_one_address_holds_at_most_its_cap_of_connections(make_server, sqlite_url) -> None:
    cap = 5
    server: Server = make_server(
        sqlite_url,
        "uvicorn",
        OCPP_MAX_CONNECTIONS_PER_IP=str(cap),
        OCPP_TRUSTED_PROXIES="127.0.0.5",
    )
    server.start()
    held: list[socket.socket] = []
    extra: list[socket.socket] = []
    try:
        held = [open_from("127.0.0.3", server.port) for _ in range(cap)]
        over = open_from("127.0.0.3", server.port)
        extra.append(over)
        eventually(lambda: closed_by_server(over), 15, "the connection over the cap closed")

        # Another address is served, and so are the address's own connections.
        health = requests.get(f"{server.http_url}/healthz", timeout=15, proxies=NO_PROXY)
        assert health.status_code == 200
        assert get_over(held[0]).startswith(b"HTTP/1.1 200")
        assert still_open(held[1:]) == held[1:]

        # A connection that closes frees its place.
        held.pop().close()
        again = open_from("127.0.0.3", server.port)
        extra.append(again)
        assert get_over(again).startswith(b"HTTP/1.1 200")

        # A trusted proxy carries many chargers: it is not capped.
        proxied = [open_from("127.0.0.5", server.port) for _ in range(cap + 3)]
        extra.extend(proxied)
        assert all(get_over(sock).startswith(b"HTTP/1.1 200") for sock in proxied)
    finally:
        close_all(held + extra)


async def test_websockets_count_against_the_cap_and_free_it_when_closed(
    make_server, sqlite_url
) -> None:
    cap = 3
    server: Server = make_server(sqlite_url, "uvicorn", OCPP_MAX_CONNECTIONS_PER_IP=str(cap))
    server.start()
    url = f"{server.ws_url}/ocpp/EDGE-WS-"
    source = {"local_addr": ("127.0.0.4", 0)}
    async with contextlib.AsyncExitStack() as stack:
        chargers = [
            await stack.enter_async_context(
                websockets.connect(f"{url}{n}", subprotocols=["ocpp1.6"], **source)
            )
            for n in range(cap)
        ]
        with pytest.raises((InvalidHandshake, ConnectionClosed, OSError, EOFError)):
            await boot(server.ws_url, "EDGE-WS-OVER", **source)

        await chargers[0].close()
        reply = await boot(server.ws_url, "EDGE-WS-OVER", **source)
        assert reply[:2] == [3, "boot-1"]


async def _send_huge_frames(ws_url: str, count: int, size: int) -> list[str]:
    """Send `count` frames of `size` bytes back to back, as a charger gone wrong (or an
    attacker) would; on a new connection whenever the server closed the last one. What became
    of each: "answered <error code>", "closed <close code>", or "dropped" (no close frame)."""
    outcomes: list[str] = []
    frame = json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "x" * size}])
    while len(outcomes) < count:
        async with websockets.connect(
            f"{ws_url}/ocpp/EDGE-BIG-{len(outcomes)}", subprotocols=["ocpp1.6"], open_timeout=15
        ) as ws:
            try:
                sent = 0
                while len(outcomes) + sent < count:
                    await ws.send(frame)
                    sent += 1
                for _ in range(sent):
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    outcomes.append(f"answered {reply[2]}")
            except ConnectionClosed:
                rcvd = ws.protocol.close_rcvd
                outcomes.append(f"closed {rcvd.code}" if rcvd else "dropped")
    return outcomes


# How each server refuses a message over its limit: uvicorn closes with 1009 ("message too
# big", RFC 6455); daphne (autobahn, failByDrop) drops the TCP connection without a close frame.
REFUSED = {"uvicorn": "closed 1009", "daphne": "dropped"}


@pytest.mark.parametrize("server_name", ["uvicorn", "daphne"])
async def test_huge_frames_are_refused_before_they_are_buffered(
    make_server, sqlite_url, server_name
) -> None:
    server: Server = make_server(sqlite_url, server_name)
    server.start()
    # Warm up: the first charger brings in what every connection needs.
    assert (await boot(server.ws_url, "EDGE-WARM"))[:2] == [3, "boot-1"]
    before = rss_kib(server.pid)

    outcomes = await _send_huge_frames(server.ws_url, 30, 15 * MiB)

    grown_mib = (rss_kib(server.pid) - before) / 1024
    print(f"{server_name}: RSS grew by {grown_mib:.1f} MiB over 30 frames of 15 MiB")
    # Refused from each frame's header, the server holds no frame: what grows is allocator
    # noise and the 30 connections' own work, well under one 15 MiB frame. Before the limit,
    # uvicorn read every frame whole and grew by 62 MiB here (181 MiB in issue #14).
    assert grown_mib < 10, f"grew by {grown_mib:.1f} MiB"
    assert outcomes == [REFUSED[server_name]] * 30
    # The server still serves.
    assert (await boot(server.ws_url, "EDGE-AFTER"))[:2] == [3, "boot-1"]


@pytest.mark.parametrize("server_name", ["uvicorn", "daphne"])
async def test_a_frame_a_little_over_the_limit_is_answered_and_a_larger_one_closed(
    make_server, sqlite_url, server_name
) -> None:
    server: Server = make_server(sqlite_url, server_name)
    server.start()
    over = DEFAULT_MAX_FRAME_BYTES + 1024
    async with websockets.connect(
        f"{server.ws_url}/ocpp/EDGE-OVER", subprotocols=["ocpp1.6"], open_timeout=15
    ) as ws:
        payload = {"vendorId": "x", "data": "x" * over}
        await ws.send(json.dumps([2, "over", "DataTransfer", payload]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 15))
        assert reply[:3] == [4, "over", "FormationViolation"], reply  # as OCPP-J 1.6 spells it

    outcomes = await _send_huge_frames(
        server.ws_url, 1, ws_max_size(DEFAULT_MAX_FRAME_BYTES) + 1024
    )
    assert outcomes == [REFUSED[server_name]]
