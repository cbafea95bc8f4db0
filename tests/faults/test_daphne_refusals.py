"""Refused connections under daphne, the server start.sh and production run.

docs/ocpp.md promises a refused charger a close code (1008 policy, 1002 protocol, 1011
server error) and a reason it can read. The other tests serve the application with uvicorn,
which sends those codes; daphne (autobahn) lets an application close only with 1000 or
3000-4999, raises "invalid close code" for anything else, and the charger gets 1011 without
the reason, while the server logs a traceback. Marked xfail (strict): it fails once the
transport closes with codes daphne accepts, and the marker must then go.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.slow


@pytest.mark.xfail(
    strict=True,
    reason=(
        "apps/ocpp/consumers.py closes refusals with 1002/1008/1011, which daphne refuses "
        "('invalid close code ... must be 1000 or from [3000, 4999]'): the charger gets "
        "1011 and no reason"
    ),
)
async def test_a_refused_charger_gets_the_documented_code_and_reason_under_daphne(
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
    assert closed.value.rcvd.code == 1002
    assert "ocpp1.6" in closed.value.rcvd.reason
