"""Nothing acknowledged is lost (issue #14): a frame is answered with a CALLRESULT only when
its work committed; otherwise with InternalError, and the charger's retry (same message id)
is processed.

The server runs in its own process on a PostgreSQL database of its own, where the faults are
real: another session holds the station row locked past the server's `lock_timeout` or
`statement_timeout` (set on the database), or closes a deadlock with the server's
transaction. Every frame writes the station's last-seen time (OCPP_LAST_SEEN_EVERY=0), the
statement of a frame's job that ran outside its handler and whose failure was swallowed:
StartTransaction was answered with a transaction id stored nowhere.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import websockets

from tests.faults.processes import Database, eventually, fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ANSWER_WITHIN = 20.0
NOW = "2024-05-01T12:00:00.000Z"
BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
START = {"connectorId": 1, "idTag": "TAG-ACK", "meterStart": 100, "timestamp": NOW}


def status(state: str) -> dict[str, Any]:
    return {"connectorId": 1, "errorCode": "NoError", "status": state}


@pytest.fixture(scope="module")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, admin URL) of a migrated PostgreSQL database of this module's own."""
    with fresh_postgres_database("constellation_acks", tmp_path_factory.mktemp("migrate")) as urls:
        yield urls


@pytest.fixture
def database(postgres_database: tuple[str, str]) -> Iterator[tuple[str, Any]]:
    """The module's database, and a function setting its sessions' parameters: for the
    server's sessions, set before it starts."""
    url, admin_url = postgres_database
    name = url.rsplit("/", 1)[1]

    def configure(**parameters: str) -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'ALTER DATABASE "{name}" RESET ALL')
            for parameter, value in parameters.items():
                conn.execute(f"ALTER DATABASE \"{name}\" SET {parameter} = '{value}'")

    yield url, configure
    configure()


class Locker:
    """A session of our own holding a station's row locked, as an operator's edit would."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, connect_timeout=10)
        # This session never reports the deadlock: the server's does (its 1 s default).
        self.conn.execute("SET deadlock_timeout = '60s'")
        self.conn.execute("SET lock_timeout = 0")
        self.conn.execute("SET statement_timeout = 0")

    def lock_station(self, charger_id: str) -> int:
        (station_id,) = self.conn.execute(
            "UPDATE chargers_chargingstation SET last_seen_at = last_seen_at"
            " WHERE charger_id = %s RETURNING id",
            (charger_id,),
        ).fetchone()
        return station_id

    def release(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def someone_waits_for_a_lock(url: str) -> bool:
    """Tell whether a session of the database (the server's) waits for a lock."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        (waiting,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return waiting > 0


async def call(ws: Any, message_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, message_id, action, payload]))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN))
        if reply[1] == message_id:
            return reply


def connect(server: Any, charger_id: str) -> Any:
    return websockets.connect(f"{server.ws_url}/ocpp/{charger_id}", subprotocols=["ocpp1.6"])


def assert_internal_error(reply: list, message_id: str) -> None:
    assert reply[:3] == [4, message_id, "InternalError"], reply


@pytest.mark.parametrize("parameter", ["lock_timeout", "statement_timeout"])
async def test_a_start_whose_work_is_undone_is_not_acknowledged(
    parameter: str, database, make_server
) -> None:
    """The station row is locked past the timeout when the frame's job writes it last seen:
    StartTransaction is answered InternalError, stores nothing, and its retry with the same
    message id starts the transaction, whose stop is stored too."""
    url, configure = database
    configure(**{parameter: "300ms"})
    server = make_server(url, OCPP_LAST_SEEN_EVERY="0")
    server.start()
    charger_id = f"ACK-{parameter}"
    db = Database(url)
    locker = Locker(url)
    try:
        async with connect(server, charger_id) as ws:
            assert (await call(ws, "boot-1", "BootNotification", BOOT))[2]["status"] == "Accepted"
            await asyncio.to_thread(locker.lock_station, charger_id)

            assert_internal_error(await call(ws, "start-1", "StartTransaction", START), "start-1")
            assert db.transaction_ids(charger_id) == []

            await asyncio.to_thread(locker.release)
            started = await call(ws, "start-1", "StartTransaction", START)
            assert started[0] == 3, started
            transaction_id = started[2]["transactionId"]
            assert db.transaction_ids(charger_id) == [str(transaction_id)]

            stop = {"transactionId": transaction_id, "meterStop": 900, "timestamp": NOW}
            assert (await call(ws, "stop-1", "StopTransaction", stop))[0] == 3
        assert db.rows(
            "SELECT meter_stop_wh FROM transactions_transaction WHERE transaction_id = %s",
            str(transaction_id),
        ) == [(900,)]
    finally:
        locker.close()


async def test_a_status_undone_by_a_deadlock_is_not_acknowledged(database, make_server) -> None:
    """The server's job holds the connector row (StatusNotification) and waits for the
    station row (last seen), which our session holds while it waits for the connector row:
    PostgreSQL breaks the deadlock by failing the server's statement. The status is answered
    InternalError and not stored; its retry is."""
    url, configure = database
    configure()
    server = make_server(url, OCPP_LAST_SEEN_EVERY="0")
    server.start()
    charger_id = "ACK-DEADLOCK"
    db = Database(url)
    locker = Locker(url)
    try:
        async with connect(server, charger_id) as ws:
            assert (await call(ws, "boot-1", "BootNotification", BOOT))[2]["status"] == "Accepted"
            assert (await call(ws, "status-1", "StatusNotification", status("Available")))[0] == 3
            station_id = await asyncio.to_thread(locker.lock_station, charger_id)

            await ws.send(json.dumps([2, "status-2", "StatusNotification", status("Preparing")]))
            await asyncio.to_thread(
                eventually, lambda: someone_waits_for_a_lock(url), 20, "the server waits"
            )
            closed = threading.Event()

            def close_the_cycle() -> None:
                locker.conn.execute(
                    "SELECT id FROM chargers_connector"
                    " WHERE station_id = %s AND connector_id = 1 FOR UPDATE",
                    (station_id,),
                )
                closed.set()

            cycle = asyncio.create_task(asyncio.to_thread(close_the_cycle))
            reply = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN))
            assert_internal_error(reply, "status-2")
            await cycle  # the server's transaction ended: our session got the connector row
            assert closed.is_set()
            await asyncio.to_thread(locker.release)
            assert db.rows(
                "SELECT status FROM chargers_connector WHERE station_id = %s", station_id
            ) == [("Available",)]

            retried = await call(ws, "status-2", "StatusNotification", status("Preparing"))
            assert retried[0] == 3, retried
        assert db.rows(
            "SELECT status FROM chargers_connector WHERE station_id = %s", station_id
        ) == [("Preparing",)]
    finally:
        locker.close()


async def test_a_failed_frame_may_be_sent_again_with_its_id(database, make_server) -> None:
    """A Heartbeat whose handler waits past lock_timeout for the station row is answered
    InternalError; the charger's retry with the same message id is answered, not refused
    as a repeated id."""
    url, configure = database
    configure(lock_timeout="300ms")
    server = make_server(url)
    server.start()
    charger_id = "ACK-RETRY"
    locker = Locker(url)
    try:
        async with connect(server, charger_id) as ws:
            assert (await call(ws, "boot-1", "BootNotification", BOOT))[2]["status"] == "Accepted"
            await asyncio.to_thread(locker.lock_station, charger_id)
            assert_internal_error(await call(ws, "hb-1", "Heartbeat", {}), "hb-1")
            await asyncio.to_thread(locker.release)
            retried = await call(ws, "hb-1", "Heartbeat", {})
            assert retried[0] == 3, retried
            assert set(retried[2]) == {"currentTime"}
    finally:
        locker.close()
