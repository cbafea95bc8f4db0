"""Fixtures of the fault tests: servers in their own processes, private databases and Redis."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.faults.processes import (
    PrivatePostgres,
    PrivateRedis,
    Server,
    migrate,
    postgres_bindir,
    server_env,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, migrated once and copied by each test that wants one."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "db.sqlite3"
    migrate(server_env(folder / "data", f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_bindir()
    need_service("PostgreSQL binaries", bindir is not None, "initdb/pg_ctl not found")
    assert bindir is not None
    postgres = PrivatePostgres(bindir)
    try:
        postgres.init()
        postgres.start()
        yield postgres
    finally:
        postgres.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    executable = shutil.which("redis-server")
    need_service("redis-server", executable is not None, "not on PATH")
    assert executable is not None
    redis = PrivateRedis(executable, tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Build servers (not started) on a fresh DATA_DIR; they are stopped at the end, and their
    log is printed (pytest shows it when the test fails)."""
    servers: list[Server] = []

    def make(
        database_url: str,
        server_name: str = "daphne",
        nofile: int | None = None,
        tls_ca: Path | None = None,
        **extra: str,
    ) -> Server:
        server = Server(
            server_env(tmp_path / "data", database_url, **extra),
            tmp_path / f"server-{len(servers)}.log",
            server=server_name,
            nofile=nofile,
            tls_ca=tls_ca,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        print(f"=== {server.log_path.name}\n{server.log()}")
