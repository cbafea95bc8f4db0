"""scripts/watchtower-services.sh: --check against real PostgreSQL and Redis servers (private
ones on free ports), reachable and not; --install's commands, recorded by stand-ins for
apt-get, systemctl and runuser on PATH."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.faults.processes import BASE_DIR

pytestmark = pytest.mark.slow

SCRIPT = BASE_DIR / "scripts" / "watchtower-services.sh"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=BASE_DIR,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL"}}
    env.update(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, REDIS_URL=redis_url)
    return env


def test_check_says_both_answer(private_postgres, private_redis, tmp_path: Path) -> None:
    env = check_env(tmp_path, private_postgres.url("postgres"), private_redis.url)
    checked = run("--check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"PostgreSQL: postgres@127.0.0.1:{private_postgres.port}/postgres answers" in (
        checked.stdout
    )
    assert f"Redis: 127.0.0.1:{private_redis.port}/0 answers" in checked.stdout


def test_check_says_which_does_not_answer(private_postgres, tmp_path: Path) -> None:
    nobody = free_port()
    url = private_postgres.url("postgres").replace("postgres@", "postgres:pw-Never-Shown@")
    env = check_env(tmp_path, url, f"redis://127.0.0.1:{nobody}/3")
    checked = run("--check", env=env)
    assert checked.returncode == 1
    assert "PostgreSQL: postgres@127.0.0.1" in checked.stdout
    assert f"Redis: 127.0.0.1:{nobody}/3 does not answer" in checked.stdout
    assert "Connection refused" in checked.stdout
    assert "scripts/watchtower-services.sh --install" in checked.stdout

    private_postgres.stop()
    checked = run("--check", env=env)
    assert checked.returncode == 1
    assert (
        f"PostgreSQL: postgres@127.0.0.1:{private_postgres.port}/postgres does not answer"
        in checked.stdout
    )
    assert "pw-Never-Shown" not in checked.stdout + checked.stderr


def test_check_refuses_sqlite_and_no_redis(tmp_path: Path) -> None:
    env = check_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", "")
    checked = run("--check", env=env)
    assert checked.returncode == 1
    assert "PostgreSQL: not configured: DATABASE_URL names sqlite3" in checked.stdout
    assert "Redis: not configured: REDIS_URL is not set" in checked.stdout


# --- --install with stand-ins --------------------------------------------------------------

RECORDER = """#!/bin/sh
# Stand-in for {name}: record the call (and standard input for psql), answer as told.
{{ printf '%s' "{name}"; for arg in "$@"; do printf ' [%s]' "$arg"; done; echo; }} >>"$CALLS"
case "$*" in
*"psql -v ON_ERROR_STOP=1"*) cat >>"$CALLS.stdin" ;;
*"FROM pg_database"*) [ -f "$STATE/db" ] && echo 1 ;;
*createdb*) touch "$STATE/db" ;;
esac
exit 0
"""


@pytest.fixture
def stand_ins(tmp_path: Path) -> dict[str, str]:
    if os.geteuid() != 0:
        pytest.skip("--install needs root (it says so: see the next test)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("apt-get", "systemctl", "runuser"):
        path = bin_dir / name
        path.write_text(RECORDER.format(name=name))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "state").mkdir()
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "STATE": str(tmp_path / "state"),
    }


def test_install_installs_creates_and_writes_the_settings_once(
    stand_ins: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / "node.env"
    env_file.write_text("NODE_ROLE=watchtower\n")
    calls = tmp_path / "calls"

    first = run("--install", "--env-file", str(env_file), "--db-name", "csms", env=stand_ins)
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = calls.read_text().splitlines()
    assert recorded[0] == "apt-get [install] [-y] [postgresql] [redis-server]"
    assert recorded[1] == "systemctl [enable] [--now] [postgresql] [redis-server]"
    assert "runuser [-u] [postgres] [--] [psql] [-v] [ON_ERROR_STOP=1] [-q] [-d] [postgres]" in (
        recorded
    )
    assert "runuser [-u] [postgres] [--] [createdb] [-O] [constellation] [csms]" in recorded

    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert settings["NODE_ROLE"] == "watchtower"
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    prefix = "postgres://constellation:"
    assert settings["DATABASE_URL"].startswith(prefix)
    password = settings["DATABASE_URL"].removeprefix(prefix).split("@")[0]
    assert len(password) == 32 and password.isalnum()
    assert settings["DATABASE_URL"].endswith("@127.0.0.1:5432/csms")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    # The password went to psql's standard input only: not on a command line, not shown.
    assert f"PASSWORD '{password}'" in (tmp_path / "calls.stdin").read_text()
    assert password not in calls.read_text()
    assert password not in first.stdout + first.stderr

    # Again: packages re-checked, but the user, the database and the settings are kept.
    before = env_file.read_text()
    calls.unlink()
    second = run("--install", "--env-file", str(env_file), "--db-name", "csms", env=stand_ins)
    assert second.returncode == 0, second.stdout + second.stderr
    assert env_file.read_text() == before
    again = calls.read_text()
    assert "createdb" not in again and "ON_ERROR_STOP" not in again
    assert "already names a PostgreSQL database" in second.stdout


def test_install_refuses_bad_names_and_says_what_it_needs(tmp_path: Path) -> None:
    refused = run("--install", "--db-name", "csms; DROP", "--env-file", str(tmp_path / "e"))
    assert refused.returncode == 2
    assert "--db-name: letters, digits, _ only" in refused.stderr
    assert not (tmp_path / "e").exists()
    both = run("--check", "--install")
    assert both.returncode == 2 and "go alone" in both.stderr
