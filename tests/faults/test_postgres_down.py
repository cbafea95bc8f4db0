"""PostgreSQL stops in the middle of a charging session, then comes back.

While it is down, the charger's messages are refused with CALLERROR InternalError (never a
CALLRESULT: nothing is acknowledged that is not stored). When it is back, the same server
process and the same connection are served again, without a restart. Every acknowledged
meter value is stored exactly once; no refused one is.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from tests.faults.processes import Database, migrate, server_env
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.slow

CHARGER = "FAULT-PG-1"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RECOVERY_WITHIN = 30.0


def at(n: int) -> str:
    return (T0 + timedelta(seconds=n)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter_values(transaction_id: int, n: int) -> call.MeterValues:
    """Reading number n: its value is n, so the database says which readings it holds."""
    return call.MeterValues(
        connector_id=1,
        transaction_id=transaction_id,
        meter_value=[
            {
                "timestamp": at(n),
                "sampled_value": [{"value": str(n), "unit": "Wh", "context": "Sample.Periodic"}],
            }
        ],
    )


async def outcome(cp, payload) -> str:
    """Send a CALL; return "ack" (CALLRESULT), "error:<code>" (CALLERROR) or "timeout"."""
    try:
        await cp.call(payload, suppress=False)
    except OCPPError as exc:
        return f"error:{exc.code}"
    except TimeoutError:
        return "timeout"
    return "ack"


async def answer_to_a_new_connection(ws_url: str) -> tuple[int, bytes]:
    """Connect a charger expecting its handshake refused; return the HTTP status and body."""
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{ws_url}/ocpp/FAULT-PG-2", subprotocols=["ocpp1.6"], open_timeout=30
        ):
            pass
    return refused.value.response.status_code, bytes(refused.value.response.body)


async def test_nothing_is_lost_or_claimed_while_postgresql_is_down(
    private_postgres, make_server, tmp_path
) -> None:
    private_postgres.create_database("constellation")
    url = private_postgres.url("constellation")
    migrate(server_env(tmp_path / "data", url))
    server = make_server(url)
    server.start()
    outcomes: dict[int, str] = {}

    async with connect_v16(server.ws_url, CHARGER) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=at(0))
        )
        tx = started.transaction_id
        for n in range(1, 4):
            outcomes[n] = await outcome(cp, meter_values(tx, n))
        assert set(outcomes.values()) == {"ack"}, outcomes

        private_postgres.stop()
        for n in range(4, 7):
            outcomes[n] = await outcome(cp, meter_values(tx, n))
        down = {n: outcomes[n] for n in range(4, 7)}
        assert "ack" not in down.values(), down
        assert set(down.values()) <= {"error:InternalError", "timeout"}, down
        assert await outcome(cp, call.Heartbeat()) != "ack"  # a write too (last seen)
        status, health = await asyncio.to_thread(server.health)
        assert status == 503 and health["checks"]["database"]["ok"] is False, health
        # A charger connecting now is refused at the handshake as a server error, not served
        # (daphne answers our 503 through config.daphne_server), and the log says why.
        assert await answer_to_a_new_connection(server.ws_url) == (
            503,
            b"server error, try again later",
        )
        assert (
            "refused websocket /ocpp/FAULT-PG-2: HTTP 503, server error, try again later"
            in server.log()
        )

        private_postgres.start()
        # The server recovers by itself: the next messages on this connection are stored.
        n, deadline = 7, time.monotonic() + RECOVERY_WITHIN
        while (result := await outcome(cp, meter_values(tx, n))) != "ack":
            assert result in ("error:InternalError", "timeout"), result
            assert time.monotonic() < deadline, f"no recovery within {RECOVERY_WITHIN} s"
            outcomes[n], n = result, n + 1
        outcomes[n] = result
        for later in range(n + 1, n + 4):
            outcomes[later] = await outcome(cp, meter_values(tx, later))
        assert await outcome(cp, call.Heartbeat()) == "ack"

    acked = {str(n) for n, result in outcomes.items() if result == "ack"}
    refused = {str(n) for n, result in outcomes.items() if result != "ack"}
    stored = Database(url).meter_value_counts(CHARGER)
    assert {value: stored.get(value, 0) for value in acked} == dict.fromkeys(acked, 1)
    assert refused.isdisjoint(stored), f"refused readings stored: {refused & set(stored)}"
    assert Database(url).transaction_ids(CHARGER) == [str(tx)]
    status, health = await asyncio.to_thread(server.health)
    assert status == 200, health
