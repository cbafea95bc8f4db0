"""Refused chargers under both servers start.sh can run: uvicorn (its default) and daphne.

A refused handshake is never upgraded (OCPP 2.0.1 Part 2 A00.FR.204; OCTT TC_A_02, TC_A_03):
the charger gets an HTTP answer instead of 101. Both servers offer ASGI's websocket denial
response (uvicorn itself, daphne through config.daphne_server, as daphne lacks it:
django/daphne#486), so the answer is ours on both: 401 with a Basic challenge, 404, 400, 429
with Retry-After, and a plain-text reason. The security events and the lockout are recorded,
and nothing is logged as a server error.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import pytest
import websockets
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus

from tests.faults.processes import Database

pytestmark = pytest.mark.slow


class Answer(NamedTuple):
    status: int
    body: bytes
    headers: Headers  # case-insensitive


async def refused(
    url: str, subprotocols: list[str], password: str | None = None, **connect: Any
) -> Answer:
    """Connect as a charger expecting the handshake refused; return the HTTP answer.

    `connect`: more options of websockets.connect (`ssl`).
    """
    headers = {}
    if password is not None:
        user = url.rsplit("/", 1)[1]
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    with pytest.raises(InvalidStatus) as caught:
        async with websockets.connect(
            url, subprotocols=subprotocols, additional_headers=headers, open_timeout=30, **connect
        ):
            pass
    response = caught.value.response
    return Answer(response.status_code, bytes(response.body), response.headers)


def expect(answer: Answer, status: int, reason: str, **headers: str) -> None:
    """The same answer from either server: status, reason as the body, the headers named."""
    assert (answer.status, answer.body.decode()) == (status, reason)
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["Content-Length"] == str(len(answer.body))
    for name, value in headers.items():
        assert answer.headers[name.replace("_", "-")] == value


@pytest.mark.parametrize("serve_with", ["uvicorn", "daphne"])
async def test_a_refused_charger_is_answered_at_the_handshake(
    make_server, sqlite_url, serve_with: str
) -> None:
    server = make_server(
        sqlite_url,
        serve_with,
        OCPP_ALLOW_UNSECURED="false",
        OCPP_AUTH_MAX_FAILURES="2",
        OCPP_AUTH_LOCKOUT_SECONDS="300",
    )
    server.start()
    database = Database(sqlite_url)
    challenge = 'Basic realm="OCPP", charset="UTF-8"'

    # A wrong password, twice: 401, each a failure counted; then the source is locked out.
    url = f"{server.ws_url}/ocpp/REFUSED-PW"
    for _ in range(2):
        answer = await refused(url, ["ocpp1.6"], password="not-the-password")
        expect(answer, 401, "authentication failed", WWW_Authenticate=challenge)
    answer = await refused(url, ["ocpp1.6"], password="not-the-password")
    expect(
        answer,
        429,
        "locked out after failed authentications, retry later",
        Retry_After="300",
    )
    # No credentials at all.
    answer = await refused(f"{server.ws_url}/ocpp/REFUSED-NONE", ["ocpp1.6"])
    expect(
        answer,
        401,
        "credentials required (HTTP Basic: charger id and password)",
        WWW_Authenticate=challenge,
    )
    # A path that names no charger there can be.
    answer = await refused(f"{server.ws_url}/ocpp/CP%3A1", ["ocpp1.6"])
    expect(answer, 404, "invalid charger id: charger id must not contain ':'")

    events = database.rows("SELECT charger_id, event_type FROM security_securityevent ORDER BY id")
    assert events == [
        ("REFUSED-PW", "FailedToAuthenticateAtCsms"),
        ("REFUSED-PW", "FailedToAuthenticateAtCsms"),
        ("REFUSED-PW", "AuthenticationLockout"),
        ("REFUSED-NONE", "UnsecuredConnectionRefused"),
    ]
    assert database.rows("SELECT charger_id FROM chargers_chargingstation") == []
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("serve_with", ["uvicorn", "daphne"])
async def test_a_charger_offering_only_unknown_subprotocols_is_answered_at_the_handshake(
    make_server, sqlite_url, serve_with: str
) -> None:
    server = make_server(sqlite_url, serve_with)
    server.start()

    answer = await refused(f"{server.ws_url}/ocpp/REFUSED-1", ["ocpp0.9"])

    expect(
        answer,
        400,
        "no supported OCPP subprotocol offered (supported: ocpp1.6, ocpp2.0.1, ocpp2.1)",
    )
    assert "Traceback" not in server.log()
