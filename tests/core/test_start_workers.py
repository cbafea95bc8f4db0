"""start.sh --workers N: several ASGI server processes on consecutive ports, run for real on a
copy of the project (tests/core/test_start_stop.py's fixtures), stopped by stop.sh."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import need_service
from tests.core.test_start_stop import (  # noqa: F401 (the fixture)
    is_running,
    processes_mentioning,
    project,
    run_script,
    wait_for,
)
from tests.faults.processes import PrivateRedis, fresh_postgres_database

pytestmark = pytest.mark.slow

NO_PROXY = {"http": "", "https": ""}


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError(f"no {count} consecutive free ports")


@pytest.fixture
def shared_services(tmp_path: Path) -> Iterator[dict[str, str]]:
    """DATABASE_URL (a fresh PostgreSQL database) and REDIS_URL (a private redis-server)."""
    executable = shutil.which("redis-server")
    need_service("redis-server", executable is not None, "not on PATH")
    assert executable is not None
    with fresh_postgres_database("constellation_start_workers", tmp_path / "pg-data") as (
        url,
        _,
    ):
        redis = PrivateRedis(executable, tmp_path)
        redis.start()
        try:
            yield {"DATABASE_URL": url, "REDIS_URL": redis.url}
        finally:
            redis.stop()


def without_services(node: dict) -> dict:
    """The project copy's environment without PostgreSQL and Redis (the suite's own)."""
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        node["env"].pop(name, None)
    return node


def test_several_workers_are_refused_on_sqlite_saying_why(project: dict) -> None:  # noqa: F811
    without_services(project)
    started = run_script(project, "start.sh", "--port", str(free_ports(2)), "--workers", "2")
    assert started.returncode == 1
    assert "--workers 2 needs PostgreSQL and Redis" in started.stderr
    assert "DATABASE_URL is not PostgreSQL (the database is sqlite3)" in started.stderr
    assert "REDIS_URL is not set" in started.stderr
    assert list((project["data_dir"] / "run").glob("*.pid")) == []
    assert processes_mentioning(str(project["root"])) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be a number from 1 to 64, or auto, not '0'"),
        (["--workers", "two"], "--workers must be a number from 1 to 64, or auto, not 'two'"),
        (["--workers", "2", "--foreground"], "--foreground runs one server process"),
        (["--worker", "2"], "--worker I goes with --foreground"),
        (["--foreground", "--worker", "0"], "--worker must be 1, 2, ..., not '0'"),
        (["--port", "65535", "--workers", "2"], "goes past port 65535"),
    ],
)
def test_it_refuses_bad_worker_options(
    project: dict,  # noqa: F811
    args: list[str],
    message: str,
) -> None:
    started = run_script(project, "start.sh", *args)
    assert started.returncode == 1
    assert message in started.stderr


def test_it_starts_two_workers_on_consecutive_ports_and_stop_stops_both(
    project: dict,  # noqa: F811
    shared_services: dict[str, str],
) -> None:
    project["env"].update(shared_services)
    port = free_ports(2)
    run_dir = project["data_dir"] / "run"

    started = run_script(
        project, "start.sh", "--port", str(port), "--bind", "127.0.0.1", "--workers", "2",
        "--no-celery",
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    first = int((run_dir / "uvicorn.pid").read_text())
    second = int((run_dir / "uvicorn-2.pid").read_text())
    assert first != second
    assert f"uvicorn-2 started (pid {second}) on 127.0.0.1:{port + 1}" in started.stdout
    for each in (port, port + 1):
        health = requests.get(f"http://127.0.0.1:{each}/healthz", timeout=10, proxies=NO_PROXY)
        assert health.status_code == 200, health.text
    # upgrade.sh restarts the node as it was started and checks the first worker.
    assert (run_dir / "start.args").read_text().split() == [
        "--port", str(port), "--bind", "127.0.0.1", "--workers", "2", "--no-celery",
    ]  # fmt: skip
    assert (run_dir / "health.url").read_text().strip() == f"http://127.0.0.1:{port}/healthz"
    assert (project["data_dir"] / "logs" / "uvicorn-2.log").exists()

    again = run_script(project, "start.sh", "--port", str(free_ports(1)), "--no-celery")
    assert again.returncode == 1
    assert f"uvicorn pid {first}; uvicorn-2 pid {second}" in again.stderr

    stopped = run_script(project, "stop.sh", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped uvicorn (pid {first})" in stopped.stdout
    assert f"stopped uvicorn-2 (pid {second})" in stopped.stdout
    assert not is_running(first) and not is_running(second)
    assert list(run_dir.glob("*.pid")) == []
    assert processes_mentioning(str(project["root"])) == []


def test_one_service_per_worker_runs_each_in_the_foreground(
    project: dict,  # noqa: F811
    shared_services: dict[str, str],
) -> None:
    """What install.sh's units run: `--foreground --worker I`, one process per unit."""
    project["env"].update(shared_services)
    port = free_ports(2)
    run_dir = project["data_dir"] / "run"
    units: list[subprocess.Popen] = []

    def unit(worker: int, *extra: str) -> subprocess.Popen:
        log = (project["data_dir"].parent / f"unit-{worker}.log").open("w")
        process = subprocess.Popen(
            [str(project["root"] / "start.sh"), "--foreground", "--bind", "127.0.0.1",
             "--port", str(port + worker - 1), "--worker", str(worker), "--no-celery", *extra],
            cwd=project["root"], env=project["env"], stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        units.append(process)
        return process

    def answers(each: int) -> bool:
        try:
            return (
                requests.get(f"http://127.0.0.1:{each}/healthz", timeout=5, proxies=NO_PROXY)
            ).status_code == 200
        except requests.RequestException:
            return False

    try:
        first = unit(1)  # migrates, as the first start of an installed node does
        assert wait_for(lambda: answers(port), timeout=120), "worker 1 did not answer"
        second = unit(2, "--no-migrate")
        assert wait_for(lambda: answers(port + 1), timeout=120), "worker 2 did not answer"
        # exec keeps the unit's pid: the service manager and the pid file name the server.
        assert int((run_dir / "uvicorn.pid").read_text()) == first.pid
        assert int((run_dir / "uvicorn-2.pid").read_text()) == second.pid
        assert (run_dir / "health.url").read_text().strip() == f"http://127.0.0.1:{port}/healthz"
        assert "--worker\n2" not in (run_dir / "start.args").read_text()

        stopped = run_script(project, "stop.sh", timeout=60)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert f"stopped uvicorn (pid {first.pid})" in stopped.stdout
        assert f"stopped uvicorn-2 (pid {second.pid})" in stopped.stdout
        for process in units:
            process.wait(30)
    finally:
        for process in units:
            if process.poll() is None:
                process.kill()
                process.wait(30)
