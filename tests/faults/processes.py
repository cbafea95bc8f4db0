"""Processes the fault tests start, stop and kill: the server, a private PostgreSQL and Redis.

Everything runs on free loopback ports in temporary folders; the shared PostgreSQL (5432) and
Redis (6379) are never touched, except that a test may create and drop a database of its own
on the shared PostgreSQL. Waits are bounded polls of a condition, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
import pytest
import requests
from django.conf import settings

from tests.conftest import free_port, need_service

T = TypeVar("T")

BASE_DIR = Path(__file__).resolve().parents[2]
START_WITHIN = 60.0


def eventually(check: Callable[[], T], within: float = 30.0, what: str = "") -> T:
    """Poll `check` until it returns something true, for at most `within` seconds."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            result = check()
        except Exception as exc:  # a failed probe is just "not yet"
            result, last = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what} (last: {last!r})")
        time.sleep(0.05)


def server_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server or manage.py process; REDIS_URL only when given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        OCPP_UNKNOWN_STATIONS="accept",
        # Fault tests connect without credentials and send bursts: no limits in the way.
        OCPP_ALLOW_UNSECURED="true",
        OCPP_MESSAGES_PER_SECOND="0",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def migrate(env: dict[str, str]) -> None:
    completed = manage(env, "migrate", "--no-input", "-v", "0")
    assert completed.returncode == 0, completed.stderr


def server_command(env: dict[str, str], server: str, port: int) -> list[str]:
    """The command start.sh runs for `server` on 127.0.0.1:port (config/serve.py builds it)."""
    completed = subprocess.run(
        [sys.executable, "-m", "config.serve", server, "127.0.0.1", str(port)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return [sys.executable, *completed.stdout.splitlines()]


def celery_command() -> list[str]:
    """start.sh's command line of the Celery worker with embedded beat (scripts/_server.sh)."""
    completed = subprocess.run(
        ["bash", "-c", '. scripts/_server.sh && printf "%s\\0" "${CELERY_CMD[@]}"'],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return completed.stdout.split("\0")[:-1]


class Server:
    """The project served by daphne or uvicorn in its own process, with start.sh's command.

    `nofile` sets the process's soft open-file limit (RLIMIT_NOFILE), as a shell's `ulimit -n`
    before start.sh would. With OCPP_TLS_CERT_FILE and OCPP_TLS_KEY_FILE in `env` it serves
    TLS (config/serve.py) and is reached over https/wss, its certificate checked against
    `tls_ca` (a CA certificate file) for the name 127.0.0.1.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        server: str = "daphne",
        nofile: int | None = None,
        tls_ca: Path | None = None,
    ) -> None:
        self.env = env
        self.tls = bool(env.get("OCPP_TLS_CERT_FILE"))
        self.tls_ca = tls_ca
        self.log_path = log_path
        self.server = server
        self.nofile = nofile
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        """What requests checks the server's certificate with."""
        return str(self.tls_ca) if self.tls_ca is not None else True

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _limit_files(self) -> None:
        """In the child, before exec: lower the soft open-file limit to `nofile`."""
        import resource

        assert self.nofile is not None
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))

    def start(self) -> None:
        """Start (again, on the same port) and wait until it answers HTTP."""
        command = server_command(self.env, self.server, self.port)
        with self.log_path.open("a") as log:
            log.write(f"--- starting on port {self.port}: {' '.join(command[1:])}\n")
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_files if self.nofile is not None else None,
            )
        try:
            eventually(self._answers, START_WITHIN, "the server answers /healthz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()}") from None

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}")
        # 200 or 503: either way the server is up; the test decides what it expects.
        response = requests.get(f"{self.http_url}/healthz", timeout=5, verify=self.verify)
        return response.status_code in (200, 503)

    def health(self) -> tuple[int, dict]:
        response = requests.get(f"{self.http_url}/healthz", timeout=15, verify=self.verify)
        return response.status_code, response.json()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or the OOM killer."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- PostgreSQL ----------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port (run as `postgres` when we are root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="constellation-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, f"{args[0]}: {completed.stdout}{completed.stderr}"
        return completed

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except AssertionError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def shared_postgres_url(settings_dict: dict[str, Any], dbname: str) -> str:
    """A URL to `dbname` on the PostgreSQL server the test settings point at."""
    auth = quote(settings_dict["USER"] or "postgres", safe="")
    if settings_dict["PASSWORD"]:
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = f"{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{quote(dbname, safe='')}"


# --- Redis ---------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server on a free port that keeps nothing on disk."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        eventually(client.ping, 30, "the private Redis answers PING")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        self.process.wait(15)


# --- Reading what the server stored --------------------------------------------------------


class Database:
    """Plain SQL on the server's database, through a connection of our own."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        if self.url.startswith("sqlite:///"):
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)
            try:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
            finally:
                conn.close()
        with psycopg.connect(self.url, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def meter_value_counts(self, charger_id: str) -> dict[str, int]:
        """How many times each meter value (by its value text) is stored for a charger."""
        return dict(
            self.rows(
                "SELECT mv.value, COUNT(*) FROM transactions_metervalue mv "
                "JOIN chargers_chargingstation s ON s.id = mv.station_id "
                "WHERE s.charger_id = %s GROUP BY mv.value",
                charger_id,
            )
        )

    def transaction_ids(self, charger_id: str) -> list[str]:
        return [
            row[0]
            for row in self.rows(
                "SELECT t.transaction_id FROM transactions_transaction t "
                "JOIN chargers_chargingstation s ON s.id = t.station_id "
                "WHERE s.charger_id = %s",
                charger_id,
            )
        ]


@contextlib.contextmanager
def fresh_postgres_database(prefix: str, data_dir: Path) -> Iterator[tuple[str, str]]:
    """Yield (URL, admin URL) of a new migrated PostgreSQL database, dropped afterwards.

    Skipped when the suite runs on SQLite (CI's PostgreSQL run has these tests); a
    PostgreSQL that DATABASE_URL names but that cannot be reached fails them in CI.
    """
    test_db = settings.DATABASES["default"]
    if test_db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("runs when the suite runs on PostgreSQL (DATABASE_URL)")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_url = shared_postgres_url(test_db, "postgres")
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        need_service("PostgreSQL", False, str(exc))
    url = shared_postgres_url(test_db, name)
    try:
        migrate(server_env(data_dir, url))
        yield url, admin_url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
