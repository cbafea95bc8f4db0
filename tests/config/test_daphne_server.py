"""The HTTP answer config.daphne_server writes for an ASGI websocket denial response.

The answer on a real socket, under daphne, is checked in tests/faults/test_handshake_refusals.py
and test_postgres_down.py with the project; here, what it adds to the application's headers and
what it refuses, and (a small application of this folder's own, served by a real daphne) a
body in parts, the extension in the scope, and accept and close untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus

from config.daphne_server import denial_response
from tests.conftest import free_port
from tests.faults.processes import BASE_DIR, eventually

DAPHNE = [sys.executable, "-m", "config.daphne_server"]


def parse(response: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, body = response.split(b"\r\n\r\n", 1)
    status_line, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, value = line.split(b": ", 1)
        headers[name.lower()] = value
    return status_line, headers, body


def test_the_answer_has_our_status_headers_and_body_with_what_http_needs_added():
    status_line, headers, body = parse(
        denial_response(
            401,
            [(b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", b"Basic")],
            b"authentication failed",
        )
    )

    assert status_line == b"HTTP/1.1 401 Unauthorized"
    assert body == b"authentication failed"
    assert headers[b"www-authenticate"] == b"Basic"
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert headers[b"content-length"] == b"21"
    assert headers[b"connection"] == b"close"
    assert headers[b"date"].endswith(b" GMT")


def test_the_applications_own_headers_are_not_doubled():
    response = denial_response(
        429, [(b"Content-Type", b"application/json"), (b"Retry-After", b"300")], b"{}"
    )

    assert response.count(b"ontent-") == 2  # Content-Type once, Content-Length once
    _, headers, _ = parse(response)
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"retry-after"] == b"300"


def test_an_unusual_status_has_no_reason_phrase():
    assert denial_response(499, [], b"").startswith(b"HTTP/1.1 499 \r\n")


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (99, []),
        (600, []),
        (400, [(b"x-a", b"1\r\nSet-Cookie: a=b")]),
        (400, [(b"x-a\n", b"1")]),
        (400, [(b"x:a", b"1")]),
        (400, [(b"x-a", b"1\0")]),
    ],
)
def test_a_bad_status_or_header_is_refused(status, headers):
    with pytest.raises(ValueError):
        denial_response(status, headers, b"")


@pytest.fixture
def daphne_server(tmp_path):
    """config.daphne_server in its own process, serving tests.config.denial_app."""
    port = free_port()
    log = tmp_path / "daphne.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*DAPHNE, "-b", "127.0.0.1", "-p", str(port), "tests.config.denial_app:application"],
            cwd=BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(lambda: _answers(port, process), 30, "daphne answers HTTP")
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)
    assert "Traceback" not in log.read_text()


def _answers(port: int, process: subprocess.Popen) -> bool:
    assert process.poll() is None, "daphne exited"
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "ok"
    except requests.ConnectionError:
        return False


@pytest.mark.slow
async def test_daphne_answers_the_applications_denial_response(daphne_server):
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(f"{daphne_server}/deny-in-parts", open_timeout=30):
            pass
    response = caught.value.response

    assert (response.status_code, bytes(response.body)) == (418, b"short and stout")
    assert response.headers["X-Reason"] == "teapot"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.slow
async def test_the_rest_of_daphne_is_unchanged(daphne_server):
    async with websockets.connect(f"{daphne_server}/extensions", open_timeout=30) as ws:
        assert json.loads(await ws.recv()) == {"websocket.http.response": {}}
    async with websockets.connect(f"{daphne_server}/accept", open_timeout=30) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
    # A close before accept is still daphne's own refusal.
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(f"{daphne_server}/close", open_timeout=30):
            pass
    assert caught.value.response.status_code == 403
