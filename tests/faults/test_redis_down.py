"""Redis stops while a server serves chargers, then comes back.

Redis carries the channel layer (commands from other processes) and the Celery broker; the
charger's own messages need only the database. What must hold: while Redis is down the server
keeps serving its chargers, /healthz says the channel layer is down (503), and a command from
another process either still arrives through the server's database poll or ends with a clear
status; when Redis is back, commands from other processes work again and /healthz is 200,
without a restart of the server.

A connection open when Redis goes away survives it: the channel layer's receive waits for
Redis to come back (apps/core/channel_layers.py) instead of ending the consumer.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.services import SECRET_PLACEHOLDER, payload_for_sending
from tests.conftest import free_port
from tests.faults.processes import BASE_DIR, Database, Server, eventually
from tests.ocpp.charger import connect_v16

CHARGER = "FAULT-REDIS-1"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# The CLI waits this long for an outcome; the server polls the database every 2 s (default).
CLI_WAIT = "10"


@dataclass
class CliResult:
    returncode: int
    lines: list[dict]
    stderr: str

    @property
    def status(self) -> str:
        return self.lines[-1]["status"] if self.lines else ""


async def send_reset(server: Server) -> CliResult:
    """`manage.py ocpp_command` in its own process, as an operator would run it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "ocpp_command",
        CHARGER,
        "Reset",
        '{"type": "Soft"}',
        "--wait",
        CLI_WAIT,
        cwd=BASE_DIR,
        env=server.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    return CliResult(process.returncode, lines, err.decode())


def meter_values(n: int) -> call.MeterValues:
    timestamp = (T0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    return call.MeterValues(
        connector_id=1,
        meter_value=[{"timestamp": timestamp, "sampled_value": [{"value": str(n)}]}],
    )


async def health(server: Server) -> tuple[int, dict]:
    return await asyncio.to_thread(server.health)


@pytest.mark.slow
@pytest.mark.parametrize("poll", ["2", "0"], ids=["database-poll-on", "database-poll-off"])
async def test_a_connected_charger_is_served_while_redis_is_down(
    private_redis, make_server, sqlite_url, poll
) -> None:
    server = make_server(sqlite_url, REDIS_URL=private_redis.url, OCPP_COMMAND_POLL_INTERVAL=poll)
    server.start()
    assert (await health(server))[0] == 200

    async with connect_v16(server.ws_url, CHARGER) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        before = await send_reset(server)
        assert (before.returncode, before.status) == (0, "accepted"), before

        private_redis.stop()
        status, report = await health(server)
        assert status == 503
        assert report["checks"]["channel_layer"]["ok"] is False
        assert report["checks"]["database"]["ok"] is True
        # The charger is served: answers come and readings are stored.
        assert await cp.call(call.Heartbeat()) is not None
        for n in range(1, 4):
            assert await cp.call(meter_values(n), suppress=False) is not None
        during = await send_reset(server)
        if poll == "0":
            # Nothing but Redis could carry it: the CLI says so and exits 1.
            assert during.returncode == 1, during
            assert during.status == "pending"
            assert "still pending" in during.stderr
        else:
            # The server's database poll delivers it all the same.
            assert (during.returncode, during.status) == (0, "accepted"), during

        private_redis.start()  # empty: it kept nothing on disk
        await asyncio.to_thread(
            eventually, lambda: server.health()[0] == 200, 30, "/healthz is 200 again"
        )
        assert await cp.call(call.Heartbeat()) is not None
        after = await send_reset(server)
        assert (after.returncode, after.status) == (0, "accepted"), after
        assert await cp.call(meter_values(4), suppress=False) is not None

    stored = Database(sqlite_url).meter_value_counts(CHARGER)
    assert stored == {"1": 1, "2": 1, "3": 1, "4": 1}
    # Without the database poll, the command sent while Redis was away waited in the
    # database and went out when the layer came back: the charger got every Reset.
    resets = len(cp.received["Reset"])
    assert resets == 3


@pytest.mark.slow
async def test_a_charger_can_connect_while_redis_is_down(
    private_redis, make_server, sqlite_url
) -> None:
    server = make_server(sqlite_url, REDIS_URL=private_redis.url)
    server.start()
    private_redis.stop()

    async with connect_v16(server.ws_url, "FAULT-REDIS-NEW") as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        assert await cp.call(call.Heartbeat()) is not None


@pytest.mark.slow
async def test_health_and_commands_from_other_processes_recover_with_redis(
    private_redis, make_server, sqlite_url
) -> None:
    server = make_server(sqlite_url, REDIS_URL=private_redis.url)
    server.start()
    database = Database(sqlite_url)

    def disconnected() -> bool:
        return database.rows(
            "SELECT is_connected FROM chargers_chargingstation WHERE charger_id = %s", CHARGER
        ) == [(0,)]

    async with connect_v16(server.ws_url, CHARGER) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        before = await send_reset(server)
        assert (before.returncode, before.status) == (0, "accepted"), before
    await asyncio.to_thread(eventually, disconnected, 30, "the disconnect is recorded")

    private_redis.stop()
    status, report = await health(server)
    assert status == 503
    assert report["checks"]["channel_layer"]["ok"] is False
    assert report["checks"]["database"]["ok"] is True
    during = await send_reset(server)
    # The charger is not connected: a clear, stored outcome at once, exit status 1.
    assert (during.returncode, during.status) == (1, "offline"), during

    private_redis.start()  # empty: it kept nothing on disk
    await asyncio.to_thread(
        eventually, lambda: server.health()[0] == 200, 30, "/healthz is 200 again"
    )
    async with connect_v16(server.ws_url, CHARGER) as cp:
        assert await cp.call(call.Heartbeat()) is not None
        after = await send_reset(server)
        assert (after.returncode, after.status) == (0, "accepted"), after
        assert await cp.call(meter_values(1), suppress=False) is not None
        assert cp.received["Reset"] == [{"type": "Soft"}]

    assert database.meter_value_counts(CHARGER) == {"1": 1}


@pytest.mark.django_db
def test_an_ordinary_command_is_sent_without_the_cache(settings) -> None:
    # The cache lives in Redis too; only a command holding a secret needs it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nobody listens there
        }
    }
    station = ChargingStation.objects.create(charger_id="CACHE-DOWN-1")
    reset = ChargerCommand.objects.create(
        station=station, action="Reset", payload={"type": "Soft"}, timeout_s=5
    )
    secret = ChargerCommand.objects.create(
        station=station,
        action="ChangeConfiguration",
        payload={"key": "AuthorizationKey", "value": SECRET_PLACEHOLDER},
        timeout_s=5,
    )

    assert payload_for_sending(reset) == {"type": "Soft"}
    with pytest.raises(redis.ConnectionError):
        payload_for_sending(secret)  # never the placeholder in its place
