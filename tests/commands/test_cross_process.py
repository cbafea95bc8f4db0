"""A command issued in one process reaches a charger whose socket another process holds.

The server runs as its own daphne process with the database poll turned off, so only the
Redis channel layer can carry the command from the `ocpp_command` process to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from ocpp.v16 import call

from apps.commands.models import ChargerCommand, CommandStatus
from tests.conftest import free_port, need_service
from tests.ocpp.charger import connect_v16

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_url() -> str:
    url = settings.REDIS_URL or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        need_service("Redis", False, f"{url}: {exc}")
    return url


def database_url() -> str:
    """Return a URL of the database this test runs on (the test database, not the real one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{quote(db['NAME'], safe='')}"
    pytest.fail(f"no DATABASE_URL for {db['ENGINE']}")


@pytest.fixture
def process_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(settings.DATA_DIR),
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url(),
        OCPP_COMMAND_POLL_INTERVAL="0",
        OCPP_UNKNOWN_STATIONS="accept",
        PYTHONUNBUFFERED="1",
    )
    # The broker then defaults to REDIS_URL, known to be up: /healthz checks it too.
    env.pop("CELERY_BROKER_URL", None)
    env["OCPP_QUEUE_OFFLINE_COMMANDS"] = "false"
    return env


def wait_healthy(process: subprocess.Popen, url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            response = requests.get(url, timeout=2)
        except requests.RequestException as exc:
            last = str(exc)
        else:
            if response.status_code == 200:
                return
            last = response.text
        time.sleep(0.1)
    raise AssertionError(f"the server did not become healthy: {last}")


@pytest.fixture
def server(process_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Run a separate daphne server process; yield its websocket base URL."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "config.daphne_server",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=BASE_DIR,
        env=process_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
        except AssertionError as exc:
            log.flush()
            raise AssertionError(f"{exc}\n{(tmp_path / 'server.log').read_text()}") from None
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


async def test_a_cli_command_reaches_a_charger_held_by_another_process(server, process_env):
    async with connect_v16(server, "XPROC-1") as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Accepted"
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "manage.py",
            "ocpp_command",
            "XPROC-1",
            "Reset",
            '{"type":"Soft"}',
            "--wait",
            "10",
            cwd=BASE_DIR,
            env=process_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(cli.communicate(), 60)

    assert cli.returncode == 0, err.decode()
    sent, outcome = (json.loads(line) for line in out.decode().splitlines())
    assert outcome["status"] == "accepted"
    assert outcome["response"] == {"status": "Accepted"}
    command = await sync_to_async(ChargerCommand.objects.get)(pk=sent["command"])
    assert (command.status, command.source) == (CommandStatus.ACCEPTED, "cli")
    assert command.response == {"status": "Accepted"}
    assert cp.received["Reset"] == [{"type": "Soft"}]
