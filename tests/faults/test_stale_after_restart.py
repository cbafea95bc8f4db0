"""No stale truth after a restart: what a killed server process held is released.

A server process (daphne, as in production) holds a charger in a charging session at 3.98 kW
and runs a simulator from the admin; a second server process on the same database holds a
charger of its own. The first is killed with SIGKILL (no shutdown code runs) and started
again on the same database. Before any charger reconnects: its station is not shown
connected, the dashboard's power now is 0 while the transaction stays open, the simulator
is Stopped with none of its chargers connected; the second process's station is still
connected. A clean stop (SIGTERM) releases the process's stations as it exits.

Runs on SQLite, and on PostgreSQL too when the suite does (DATABASE_URL).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websockets

from tests.faults.processes import (
    Database,
    Server,
    eventually,
    fresh_postgres_database,
    manage,
)

pytestmark = pytest.mark.slow

ADMIN_USERNAME = "stale-admin"
ADMIN_PASSWORD = "stale-admin-password-1"
ANSWER_WITHIN = 20.0
SIMULATOR = "stale-sim"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    with fresh_postgres_database("constellation_stale", tmp_path / "data") as (url, _):
        yield url


async def call(ws: Any, message_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, message_id, action, payload]))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WITHIN))
        if reply[1] == message_id:
            assert reply[0] == 3, reply
            return reply


async def boot(ws: Any) -> None:
    reply = await call(
        ws, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert reply[2]["status"] == "Accepted"


async def charge_at_3_98_kw(ws: Any) -> int:
    """Start a session on connector 1 and report 3.98 kW; return the transaction id."""
    started = await call(
        ws,
        "start",
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG-STALE", "meterStart": 0, "timestamp": now()},
    )
    transaction_id = started[2]["transactionId"]
    await call(
        ws,
        "status",
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": now()},
    )
    await call(
        ws,
        "meter",
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [
                {
                    "timestamp": now(),
                    "sampledValue": [
                        {"value": "1500", "unit": "Wh"},
                        {"value": "3.98", "unit": "kW", "measurand": "Power.Active.Import"},
                    ],
                }
            ],
        },
    )
    return transaction_id


def now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(server: Server, charger_id: str) -> Any:
    return websockets.connect(f"{server.ws_url}/ocpp/{charger_id}", subprotocols=["ocpp1.6"])


def log_in(server: Server) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    login_url = f"{server.http_url}/admin/login/"
    session.get(login_url, timeout=15).raise_for_status()
    response = session.post(
        login_url,
        data={
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login_url},
        timeout=15,
    )
    assert response.status_code == 200 and "csrftoken" in session.cookies, response.text[:500]
    return session


def figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, f"no #{element_id} in the dashboard"
    return found.group(1)


def dashboard(session: requests.Session, server: Server) -> str:
    response = session.get(f"{server.http_url}/admin/control-center/", timeout=15)
    assert response.status_code == 200, response.status_code
    return response.text


def start_simulator(session: requests.Session, server: Server, simulator_id: int) -> None:
    url = f"{server.http_url}/admin/simulator/simulator/"
    response = session.post(
        url,
        data={
            "action": "start_simulators",
            "_selected_action": str(simulator_id),
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": url},
        timeout=30,
    )
    assert response.status_code == 200, response.status_code


def connected(database: Database, charger_id: str) -> bool:
    rows = database.rows(
        "SELECT is_connected FROM chargers_chargingstation WHERE charger_id = %s", charger_id
    )
    return bool(rows and rows[0][0])


def simulator_row(database: Database) -> tuple[str, dict]:
    """The simulator's status and counters (JSON text on SQLite, a dict on PostgreSQL)."""
    status, counters = database.rows(
        "SELECT status, counters FROM simulator_simulator WHERE name = %s", SIMULATOR
    )[0]
    return status, json.loads(counters) if isinstance(counters, str) else counters


def prepare(server: Server) -> int:
    """The admin user, and a simulator of one idle charger aimed at this server; its id."""
    for args in (
        ("ensure_admin",),
        (
            "shell",
            "-c",
            "from apps.simulator.models import Simulator; "
            f"print(Simulator.objects.create(name='{SIMULATOR}', prefix='STALE-SIM-', "
            "mode='idle', meter_interval=60).pk)",
        ),
    ):
        completed = manage(
            {**server.env, "ADMIN_USERNAME": ADMIN_USERNAME, "ADMIN_PASSWORD": ADMIN_PASSWORD},
            *args,
        )
        assert completed.returncode == 0, completed.stderr
    return int(completed.stdout.strip().splitlines()[-1])


async def test_a_restart_after_a_kill_shows_no_stale_truth(database_url, make_server) -> None:
    first, second = make_server(database_url), make_server(database_url)
    simulator_id = prepare(first)
    first.start()
    second.start()
    database = Database(database_url)
    session = log_in(first)
    start_simulator(session, first, simulator_id)

    async with connect(first, "STALE-1") as held_by_first, connect(second, "STALE-2") as other:
        await boot(held_by_first)
        transaction_id = await charge_at_3_98_kw(held_by_first)
        await boot(other)
        assert connected(database, "STALE-1") and connected(database, "STALE-2")
        assert figure(dashboard(session, first), "cc-total-power") == "3.98"
        eventually(
            lambda: simulator_row(database)[1].get("connected") == 1,
            30,
            "the simulator reports its charger connected",
        )

        first.kill()
        first.start()  # same database; answers once its start-up is done

        # Before any charger reconnects: nothing is held by the killed process.
        assert not connected(database, "STALE-1")
        assert not connected(database, "STALE-SIM-0001")
        assert connected(database, "STALE-2"), "the live second process's station was released"
        session = log_in(first)
        html = dashboard(session, first)
        assert figure(html, "cc-online-count") == "1"  # STALE-2, on the second process
        assert figure(html, "cc-total-power") == "0.00"
        assert figure(html, "cc-charging-count") == "0"
        assert f'data-transaction-id="{transaction_id}"' in html  # still open, listed
        stopped = database.rows(
            "SELECT stopped_at FROM transactions_transaction WHERE transaction_id = %s",
            str(transaction_id),
        )
        assert stopped == [(None,)]
        status, counters = simulator_row(database)
        assert status == "stopped"
        assert counters["connected"] == 0
        admin_list = session.get(f"{first.http_url}/admin/simulator/simulator/", timeout=15)
        assert "0/1 connected" in admin_list.text
        assert "1/1 connected" not in admin_list.text

        # The second process is still serving its charger.
        await call(other, "hb", "Heartbeat", {})
        assert connected(database, "STALE-2")


@pytest.mark.parametrize("server_name", ["daphne", "uvicorn"])
async def test_a_clean_stop_releases_the_stations_of_the_process(
    sqlite_url, make_server, server_name
) -> None:
    """SIGTERM: daphne cancels its consumers and exits (the exit hook releases); uvicorn
    closes the sockets (the consumers' disconnect runs), then the lifespan's shutdown."""
    server = make_server(sqlite_url, server_name)
    server.start()
    database = Database(sqlite_url)
    async with connect(server, "STALE-TERM") as ws:
        await boot(ws)
        assert connected(database, "STALE-TERM")
        assert database.rows("SELECT COUNT(*) FROM core_serverprocess") == [(1,)]
        server.stop()
        assert not connected(database, "STALE-TERM")
        assert database.rows("SELECT COUNT(*) FROM core_serverprocess") == [(0,)]
