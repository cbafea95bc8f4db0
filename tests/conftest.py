"""Shared fixtures: a real ASGI server on a loopback port, and the services CI provides."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# Shared personas (users with given permissions, stations) and charging data for every app's
# tests.
pytest_plugins = ["tests.personas", "tests.charging_data", "tests.live_events"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def need_service(name: str, reachable: bool, detail: str) -> None:
    """Fail in CI, skip elsewhere, when a service a test needs is not there."""
    if reachable:
        return
    message = f"{name} is not reachable: {detail}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, a configured PostgreSQL or Redis that is down fails the run at once."""
    if not IN_CI:
        return
    from django.conf import settings

    redis_url = settings.REDIS_URL
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        import psycopg

        db = settings.DATABASES["default"]
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            dbname="postgres",
            connect_timeout=3,
        ).close()


class LiveServer:
    """The project's ASGI application served by uvicorn in a background thread."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        import uvicorn

        from config.asgi import routes as application

        self.port = free_port()
        self.tls = certfile is not None
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws_max_size=16 * 1024 * 1024,  # our own frame limit is what tests exercise
            ws_ping_interval=None,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            # As daphne: proxy headers are ours to judge (OCPP_TRUSTED_PROXIES), not uvicorn's.
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="live-asgi", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.server.serve())
        self.loop.close()

    async def run(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking `func` as the server's own views do: on its event loop's executor.

        With the in-memory channel layer, code that talks to chargers (send_command) must run
        in the server process and loop, as the admin and the API do in production.
        """
        from asgiref.sync import sync_to_async

        future = asyncio.run_coroutine_threadsafe(
            sync_to_async(func, thread_sensitive=False)(*args, **kwargs), self.loop
        )
        return await asyncio.wrap_future(future)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None, django_db_blocker: object) -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    yield server
    server.stop()


# --- OCPP coverage record -----------------------------------------------------------------
# Every exchange the server completes during the run is recorded; `manage.py ocpp_coverage`
# turns the record into docs/ocpp-coverage.*, and a whole-suite run checks that every action
# the committed report calls tested was tested in this run too.

from apps.protocol.observers import Exchange  # noqa: E402

_EXERCISED: set[tuple[str, str, str]] = set()


def _record(exchange: Exchange) -> None:
    if exchange.ok:
        _EXERCISED.add((exchange.version, exchange.direction, exchange.action))


# Functional tests connect many chargers from 127.0.0.1 without credentials, and ask for API
# tokens from there many times a minute; the security tests switch these limits back on for
# themselves. Server processes the tests start inherit them.
TEST_EDGE_SETTINGS = {
    "OCPP_ALLOW_UNSECURED": True,
    "OCPP_HANDSHAKES_PER_MINUTE_PER_IP": 0,
    "OCPP_MESSAGES_PER_SECOND": 0,
    "API_TOKEN_RATE": "1000/minute",
    # Server processes the tests start leave this machine's devices and desktop alone (no
    # toasts on a developer's screen); tests/hardware runs the services itself.
    "HARDWARE_SERVICES": False,
}


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    from apps.protocol import observers

    observers.add(_record)
    # Cache keys (authentication lockouts, ...) of this run must not meet another run's: the
    # Redis the suite shares outlives it.
    for cache in settings.CACHES.values():
        cache["KEY_PREFIX"] = f"test-{os.getpid()}-{time.time_ns()}"
    for name, value in TEST_EDGE_SETTINGS.items():
        setattr(settings, name, value)
        os.environ[name] = str(value).lower()


def _whole_suite(session: pytest.Session) -> bool:
    config = session.config
    args = [arg for arg in config.args if arg not in ("tests", "tests/", "./tests")]
    return not args and not config.option.keyword and not config.option.markexpr


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import json
    from pathlib import Path

    target = os.environ.get("OCPP_COVERAGE_FILE")
    if target:
        Path(target).write_text(json.dumps(sorted(_EXERCISED)))
    if exitstatus != 0 or not _whole_suite(session) or session.testscollected == 0:
        return
    committed = Path(__file__).resolve().parent.parent / "docs" / "ocpp-coverage.json"
    if not committed.exists():
        return
    claimed = {
        (f"ocpp{label}", row["direction"], row["action"])
        for label, rows in json.loads(committed.read_text()).items()
        for row in rows
        if row["exercised"]
    }
    missing = sorted(claimed - _EXERCISED)
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "docs/ocpp-coverage.json claims exchanges this run did not complete "
                f"(regenerate with manage.py ocpp_coverage): {missing}",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def celery_eager(settings: object) -> Iterator[None]:
    """Run Celery tasks where they are sent, for this test.

    Celery reads its configuration from the settings once, at first use; a test that changes
    only the Django setting after another test has used Celery would change nothing.
    """
    from celery import current_app

    settings.CELERY_TASK_ALWAYS_EAGER = True  # type: ignore[attr-defined]
    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = before


@pytest.fixture
def staff_client(django_user_model: Any) -> Callable[..., Any]:
    """Return a maker of logged-in admin clients: a new staff user with these permissions."""
    from django.test import Client

    from tests.personas import ALL_SITES, grant

    def make(*perms: str) -> Client:
        user = django_user_model.objects.create_user(
            username=f"staff{django_user_model.objects.count()}",
            password="a-long-test-password",
            is_staff=True,
        )
        grant(user, ALL_SITES, *perms)  # an operator of every site (docs/sites.md)
        client = Client()
        client.force_login(user)
        return client

    return make
