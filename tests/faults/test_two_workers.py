"""Two ASGI worker processes on one PostgreSQL and one Redis: a Watchtower in small.

Each worker is started with start.sh's command line (config/serve.py), as `start.sh --workers
2` starts them, on a port of its own, and a real nginx runs the site `manage.py nginx_site`
writes for both (least_conn over the two upstreams). Chargers (independent clients over real
sockets) connect to each worker directly, so that each worker surely holds some. Then:

- commands sent from the REST API of worker A reach chargers on worker A and on worker B
  (the channel layer in Redis carries them to whichever process holds the socket);
- worker B is killed (SIGKILL: no shutdown code runs) while its chargers have a burst of
  MeterValues in flight: every reading that was acknowledged (CALLRESULT received) is in the
  database; worker A sweeps the dead process and releases its stations (`connected_by`);
  the chargers reconnect through nginx, which takes them to the surviving worker, replay
  what got no answer, and end with every reading stored exactly once; commands from the API
  reach them there.

Runs when the suite runs on PostgreSQL (DATABASE_URL: CI's PostgreSQL + Redis run); a
PostgreSQL, redis-server or nginx that is missing there fails it instead of skipping it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from apps.nodes.nginx import nginx_site, nginx_site_render
from tests.conftest import free_port
from tests.faults.processes import (
    Database,
    Server,
    eventually,
    fresh_postgres_database,
    manage,
)
from tests.nodes.test_nginx_site import nginx, running_nginx  # noqa: F401 (the fixture)
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.slow

ADMIN = {"ADMIN_USERNAME": "watch", "ADMIN_PASSWORD": "tower-Secret-42"}
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ANSWER_WITHIN = 20.0
READINGS = 30
ACKED_BEFORE_KILL = 4
# Worker A sweeps dead processes every BEAT_S (10 s) seconds (apps/core/processes.py).
RELEASE_WITHIN = 45.0


def at(n: int) -> str:
    return (T0 + timedelta(seconds=n)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reading(transaction_id: int, n: int) -> dict[str, Any]:
    """MeterValues payload of reading n, whose value is n."""
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": at(n),
                "sampledValue": [{"value": str(n), "unit": "Wh", "context": "Sample.Periodic"}],
            }
        ],
    }


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with fresh_postgres_database("constellation_workers", tmp_path / "data") as (url, _):
        yield url


class Api:
    """The REST API of one worker, with the admin's token."""

    def __init__(self, server: Server) -> None:
        self.base = f"{server.http_url}/api"
        response = requests.post(
            f"{self.base}/auth/token/",
            json={"username": ADMIN["ADMIN_USERNAME"], "password": ADMIN["ADMIN_PASSWORD"]},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Token {response.json()['token']}"}

    def _reset(self, charger_id: str) -> dict:
        response = requests.post(
            f"{self.base}/commands/?wait=20",
            json={"charger": charger_id, "action": "Reset", "payload": {"type": "Soft"}},
            headers=self.headers,
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def reset(self, charger_id: str) -> dict:
        """Send Reset through the API, waiting (off the event loop) for its outcome."""
        return await asyncio.to_thread(self._reset, charger_id)


class RawCharger:
    """A 1.6 charger on a raw websocket that pipelines a burst of MeterValues."""

    def __init__(self, charger_id: str) -> None:
        self.charger_id = charger_id
        self.acked: set[int] = set()
        self.transaction_id = 0
        self.ws: Any = None

    async def connect(self, ws_url: str) -> None:
        self.ws = await websockets.connect(
            f"{ws_url}/ocpp/{self.charger_id}", subprotocols=["ocpp1.6"]
        )

    async def call(self, message_id: str, action: str, payload: dict) -> list:
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), ANSWER_WITHIN))
            if reply[1] == message_id:
                return reply

    async def begin(self) -> None:
        boot = await self.call(
            "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        assert boot[2]["status"] == "Accepted", boot
        start = {"connectorId": 1, "idTag": "TAG-W", "meterStart": 0, "timestamp": at(0)}
        started = await self.call("start", "StartTransaction", start)
        assert started[0] == 3, started
        self.transaction_id = started[2]["transactionId"]

    async def burst(self) -> None:
        for n in range(1, READINGS + 1):
            message = [2, f"mv-{n}", "MeterValues", reading(self.transaction_id, n)]
            await self.ws.send(json.dumps(message))

    async def read_acks(self, until: int | None = None) -> None:
        """Record CALLRESULTs until `until` are acknowledged (None: until the socket closes)."""
        try:
            while until is None or len(self.acked) < until:
                reply = json.loads(await asyncio.wait_for(self.ws.recv(), ANSWER_WITHIN))
                assert reply[0] == 3, reply
                self.acked.add(int(reply[1].removeprefix("mv-")))
        except ConnectionClosed:
            assert until is None, f"{self.charger_id}: closed with {len(self.acked)} answers"

    async def replay(self, ws_url: str) -> None:
        """Reconnect to `ws_url`, replay the unanswered readings and two answered ones."""
        await self.connect(ws_url)
        start = {"connectorId": 1, "idTag": "TAG-W", "meterStart": 0, "timestamp": at(0)}
        again = await self.call("start-again", "StartTransaction", start)
        assert again[0] == 3 and again[2]["transactionId"] == self.transaction_id, again
        unanswered = sorted(set(range(1, READINGS + 1)) - self.acked)
        for n in unanswered + sorted(self.acked)[:2]:
            reply = await self.call(f"re-{n}", "MeterValues", reading(self.transaction_id, n))
            assert reply[0] == 3, reply


def holders(database: Database) -> dict[str, int | None]:
    """Each station's holding process, as its pid (None: nobody holds it)."""
    rows = database.rows(
        "SELECT s.charger_id, p.pid FROM chargers_chargingstation s "
        "LEFT JOIN core_serverprocess p ON p.id = s.connected_by"
    )
    return dict(rows)


async def boot(cp: Any) -> None:
    answer = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    assert answer.status == "Accepted"


async def test_two_workers_share_chargers_commands_and_survive_a_killed_worker(
    database_url,
    private_redis,
    make_server,
    nginx,  # noqa: F811 (the fixture)
    tmp_path,
) -> None:
    env = {"REDIS_URL": private_redis.url, "CELERY_QUEUE": "off"}
    worker_a = make_server(database_url, "uvicorn", **env)
    worker_b = make_server(database_url, "uvicorn", **env)
    created = manage({**worker_a.env, **ADMIN}, "ensure_admin")
    assert created.returncode == 0, created.stderr
    worker_a.start()
    worker_b.start()
    assert worker_a.port != worker_b.port
    api = await asyncio.to_thread(Api, worker_a)
    database = Database(database_url)
    raw = [RawCharger("W-B-RAW-1"), RawCharger("W-B-RAW-2")]
    proxy_port = free_port()
    site = nginx_site_render(
        nginx_site(
            http_port=proxy_port,
            upstreams=[f"127.0.0.1:{worker_a.port}", f"127.0.0.1:{worker_b.port}"],
        )
    )
    assert "least_conn" in site
    with running_nginx(nginx, site, tmp_path / "nginx", proxy_port):
        await serve_kill_and_move(
            worker_a, worker_b, api, database, raw, f"ws://127.0.0.1:{proxy_port}"
        )


async def serve_kill_and_move(
    worker_a: Server,
    worker_b: Server,
    api: Api,
    database: Database,
    raw: list[RawCharger],
    proxy_url: str,
) -> None:
    async with (
        connect_v16(worker_a.ws_url, "W-A-1") as on_a,
        connect_v16(worker_b.ws_url, "W-B-1") as on_b,
    ):
        await boot(on_a)
        await boot(on_b)
        for charger in raw:
            await charger.connect(worker_b.ws_url)
            await charger.begin()
        assert holders(database) == {
            "W-A-1": worker_a.pid,
            "W-B-1": worker_b.pid,
            "W-B-RAW-1": worker_b.pid,
            "W-B-RAW-2": worker_b.pid,
        }

        # Commands from worker A's API reach the charger on A and the one on B.
        for charger_id in ("W-A-1", "W-B-1"):
            outcome = await api.reset(charger_id)
            assert (outcome["status"], outcome["response"]) == (
                "accepted",
                {"status": "Accepted"},
            ), outcome
        assert on_a.received["Reset"] == [{"type": "Soft"}]
        assert on_b.received["Reset"] == [{"type": "Soft"}]

        # Worker B dies with bursts in flight; what its chargers saw acknowledged counts.
        for charger in raw:
            await charger.burst()
        for charger in raw:
            await charger.read_acks(until=ACKED_BEFORE_KILL)
        await asyncio.to_thread(worker_b.kill)
        for charger in raw:
            await charger.read_acks()
            # How the kill fell (for the log, not asserted: it depends on timing).
            print(f"{charger.charger_id}: {len(charger.acked)} of {READINGS} acknowledged")

        # Every acknowledged reading is stored (no more than once).
        for charger in raw:
            stored = database.meter_value_counts(charger.charger_id)
            assert {n: stored.get(str(n)) for n in charger.acked} == dict.fromkeys(
                charger.acked, 1
            ), charger.charger_id

        # Worker A sweeps the dead worker: its stations are released, A's are not.
        def released() -> bool:
            held = holders(database)
            return all(held[name] is None for name in ("W-B-1", "W-B-RAW-1", "W-B-RAW-2"))

        await asyncio.to_thread(eventually, released, RELEASE_WITHIN, "B's stations released")
        assert database.rows(
            "SELECT charger_id FROM chargers_chargingstation WHERE is_connected ORDER BY 1"
        ) == [("W-A-1",)]
        assert holders(database)["W-A-1"] == worker_a.pid
        # The charger on A is served all along.
        assert await on_a.call(call.Heartbeat()) is not None

    # B's chargers reconnect through nginx (B refuses connections now: nginx passes them to
    # A) and replay what got no answer.
    for charger in raw:
        await charger.replay(proxy_url)
        assert holders(database)[charger.charger_id] == worker_a.pid
        await charger.ws.close()
        counts = database.meter_value_counts(charger.charger_id)
        assert counts == {str(n): 1 for n in range(1, READINGS + 1)}, charger.charger_id
        assert database.transaction_ids(charger.charger_id) == [str(charger.transaction_id)]
    async with connect_v16(proxy_url, "W-B-1") as moved:
        await boot(moved)
        assert holders(database)["W-B-1"] == worker_a.pid
        outcome = await api.reset("W-B-1")
        assert outcome["status"] == "accepted", outcome
        assert moved.received["Reset"] == [{"type": "Soft"}]
