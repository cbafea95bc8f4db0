"""Refused connections under daphne, the server start.sh and production run.

docs/ocpp.md promises a refused charger a close code (4008 policy, 4002 protocol, 4011
server error) and, under uvicorn, a reason it can read. Daphne (autobahn) lets an application
close only with 1000 or 3000-4999, which is why the codes live in the private range, and it
does not pass the reason on.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.slow


async def test_a_refused_charger_gets_the_documented_code_under_daphne(
    make_server, sqlite_url
) -> None:
    server = make_server(sqlite_url)
    server.start()

    async with websockets.connect(
        f"{server.ws_url}/ocpp/REFUSED-1", subprotocols=["ocpp0.9"]
    ) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4002
    # Daphne sends no close reason at all (uvicorn does: see tests/ocpp/test_bad_frames.py).
    assert closed.value.rcvd.reason == ""
