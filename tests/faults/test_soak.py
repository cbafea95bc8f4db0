"""A short soak: 24 chargers for 75 s with every fault at least once (tests/faults/soak.py).

The full run is `scripts/soak.py` (200 chargers, 10 minutes; docs/robustness.md, "Soak").
This one runs the same engine in CI's PostgreSQL run: a private PostgreSQL cluster and
Redis, uvicorn with start.sh's command line, Celery with beat; TCP aborts, a SIGKILL of the
server, a PostgreSQL restart and a Redis restart; commands through the REST API. It runs
once per module and each test below asserts one of its checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.conftest import need_service
from tests.faults.processes import PrivatePostgres, PrivateRedis, postgres_bindir
from tests.faults.soak import SoakConfig, run_soak, summary

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONFIG = SoakConfig(
    chargers=24,
    seconds=75,
    seed=14,
    server="uvicorn",
    interval=1.0,
    kills=1,
    pg_restarts=1,
    redis_restarts=1,
    aborts_per_minute=20,
    commands_per_minute=30,
    off_at_kill=2,
    command_timeout=10,
)


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("runs when the suite runs on PostgreSQL (DATABASE_URL)")
    bindir = postgres_bindir()
    need_service("PostgreSQL binaries", bindir is not None, "initdb/pg_ctl not found")
    redis_server = shutil.which("redis-server")
    need_service("redis-server", redis_server is not None, "not on PATH")
    assert bindir is not None and redis_server is not None
    workdir = tmp_path_factory.mktemp("soak")
    postgres = PrivatePostgres(bindir)
    redis = PrivateRedis(redis_server, workdir)
    try:
        postgres.init()
        postgres.start()
        redis.start()
        result = run_soak(CONFIG, postgres, redis, workdir)
        print(summary(result))
        yield result
    finally:
        redis.stop()
        postgres.destroy()


def test_every_fault_happened_under_load(soak: dict) -> None:
    figures = soak["figures"]
    assert figures["kills"] == 1
    assert figures["pg_restarts"] == 1
    assert figures["redis_restarts"] == 1
    assert figures["aborts"] > 0
    assert figures["chargers_off_at_kill"] == 2
    # The faults were felt: refusals while PostgreSQL was down, frames sent again.
    assert figures["refused_internal_error"] > 0
    assert figures["retries"] > 0
    assert figures["commands_posted"] > 0
    assert figures["unexpected_server_exits"] == 0
    assert figures["celery_exits"] == 0
    assert figures["other_call_errors"] == {}
    assert soak["chargers_not_settled"] == []


def test_every_acknowledged_frame_is_stored_exactly_once(soak: dict) -> None:
    frames = soak["frames"]
    assert frames["problems"] == []
    stored = frames["by_kind"]
    for kind in ("meter value", "status notification", "boot (station accepted)"):
        assert stored[kind].get("once", 0) > 0, kind
    assert (
        stored["start transaction"].get("once", 0) + stored["transaction event"].get("once", 0) > 0
    )


def test_every_command_reached_a_final_state(soak: dict) -> None:
    commands = soak["commands"]
    assert commands["open"] == {}
    assert commands["stored"] == commands["posted"]
    assert commands["by_state"].get("accepted", 0) > 0


def test_no_station_is_marked_connected_without_a_socket(soak: dict) -> None:
    connected = soak["connected"]
    assert connected["open_but_not_marked"] == []
    assert connected["marked_without_socket"] == []
