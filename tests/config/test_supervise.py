"""config.supervise (what start.bat runs): the server with Celery's worker and beat as one program.

The real module runs real children: the daphne server and Celery on a migrated data folder, and
it must leave none of them behind, whether it is stopped or one of them dies. Windows' console
events cannot be sent here; POSIX's signals take the same path through the code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from config.supervise import CELERY_BEAT, CELERY_WORKER, commands
from tests.core.test_start_stop import free_port, is_running

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_it_runs_celery_as_windows_allows_it(tmp_path: Path) -> None:
    found = commands(server_args=["-m", "config.daphne_server"], celery=True, log_dir=tmp_path)
    assert list(found) == ["server", "celery worker", "celery beat"]
    assert found["server"] == [sys.executable, "-m", "config.daphne_server"]
    # No prefork pool and no beat inside the worker: neither runs on Windows.
    assert "--pool=solo" in CELERY_WORKER and "-B" not in CELERY_WORKER
    assert CELERY_BEAT[:5] == ["-m", "celery", "-A", "config", "beat"]
    assert found["celery worker"][-2:] == ["--logfile", str(tmp_path / "celery-worker.log")]
    assert found["celery beat"][-2:] == ["--logfile", str(tmp_path / "celery-beat.log")]
    without = commands(server_args=["-m", "x"], celery=False, log_dir=tmp_path)
    assert list(without) == ["server"]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[dict]:
    """A migrated data folder and the environment of a node that runs Celery."""
    data_dir = tmp_path / "data"
    env = {**os.environ, "DATA_DIR": str(data_dir), "CELERY_QUEUE": "on"}
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )
    port = free_port()
    started: list[subprocess.Popen[str]] = []

    output = tmp_path / "supervise.out"

    def start() -> subprocess.Popen[str]:
        # Into a file: a pipe nobody reads could fill and stall the children writing to it.
        with output.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "config.supervise", "127.0.0.1", str(port), "--celery"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        started.append(process)
        return process

    yield {"start": start, "port": port, "data_dir": data_dir, "output": output}
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def children_of(node: dict, process: subprocess.Popen[str]) -> dict[str, int]:
    """Read the supervisor's "started NAME (pid N)" lines, one per child."""

    def started() -> dict[str, int]:
        found = {}
        for line in node["output"].read_text().splitlines():
            if line.startswith("started "):
                name, pid = line[len("started ") :].rsplit(" (pid ", 1)
                found[name] = int(pid.rstrip(")"))
        return found

    assert wait_for(lambda: len(started()) == 3 or process.poll() is not None, 60)
    assert process.poll() is None, node["output"].read_text()
    return started()


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def serves(port: int) -> bool:
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except requests.RequestException:
        return False
    return answer.status_code == 200


@pytest.mark.slow
def test_ctrl_c_stops_the_server_the_worker_and_the_beat(node: dict) -> None:
    supervisor = node["start"]()
    children = children_of(node, supervisor)
    assert set(children) == {"server", "celery worker", "celery beat"}
    assert "config.daphne_server" in cmdline(children["server"])
    assert "-m celery -A config worker --pool=solo" in cmdline(children["celery worker"])
    assert "-m celery -A config beat" in cmdline(children["celery beat"])
    assert wait_for(lambda: serves(node["port"]), 60), "the server did not answer /healthz"
    # Each child in a group of its own: a terminal's Ctrl+C reaches the supervisor only.
    for pid in children.values():
        assert os.getpgid(pid) == pid != os.getpgid(supervisor.pid)

    supervisor.send_signal(signal.SIGINT)
    assert supervisor.wait(timeout=60) == 0
    assert not [name for name, pid in children.items() if is_running(pid)]
    # Each stopped when asked: none had to be killed.
    assert "killed" not in node["output"].read_text()
    assert not serves(node["port"])


@pytest.mark.slow
def test_a_child_that_dies_takes_the_others_down_and_fails(node: dict) -> None:
    supervisor = node["start"]()
    children = children_of(node, supervisor)
    assert wait_for(lambda: serves(node["port"]), 60)
    os.kill(children["server"], signal.SIGKILL)
    assert supervisor.wait(timeout=60) != 0
    assert not [name for name, pid in children.items() if is_running(pid)]
    assert "server exited with status -9: stopping the rest" in node["output"].read_text()


@pytest.mark.slow
def test_sigterm_stops_everything_too(node: dict) -> None:
    supervisor = node["start"]()
    children = children_of(node, supervisor)
    assert wait_for(lambda: all(is_running(pid) for pid in children.values()), 30)
    supervisor.terminate()
    assert supervisor.wait(timeout=60) == 0
    assert not [name for name, pid in children.items() if is_running(pid)]
