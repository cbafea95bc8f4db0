"""upgrade.sh for real: a node cloned from a local origin, started with start.sh, upgraded
to a release, and rolled back from a release whose migration fails."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.lifecycle.conftest import Node
from tests.lifecycle.releases import Releases

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="upgrade.sh targets Linux"),
]

NO_PROXY = {"http": "", "https": ""}


def start(node: Node) -> int:
    port = free_port()
    started = node.run("start.sh", "--port", str(port), "--bind", "127.0.0.1", "--no-celery")
    assert started.returncode == 0, started.stdout + started.stderr
    return port


def healthz(port: int) -> int:
    answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10, proxies=NO_PROXY)
    return answer.status_code


def server_pid(node: Node) -> int:
    return int((node.data_dir / "run" / "uvicorn.pid").read_text().strip())


def node_json(node: Node) -> dict:
    shown = node.manage("node", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def query(node: Node, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(node.data_dir / "db.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def tables(node: Node) -> set[str]:
    return {name for (name,) in query(node, "SELECT name FROM sqlite_master WHERE type='table'")}


def history(node: Node) -> list[tuple]:
    return query(
        node,
        "SELECT id, result, from_version, to_version, to_commit, detail, log, finished_at "
        "FROM lifecycle_upgrade ORDER BY id",
    )


def test_it_upgrades_a_running_node_to_the_release_and_serves_the_new_version(
    node: Node, releases: Releases
) -> None:
    port = start(node)
    old_pid = server_pid(node)
    assert node_json(node)["version"] == f"0.1.0+{releases.commits['v0.1.0'][:8]}"

    upgraded = node.run("upgrade.sh", "--to", "v0.2.0")

    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "upgraded: v0.1.0 → v0.2.0" in upgraded.stdout
    assert node.head() == releases.commits["v0.2.0"]
    # Restarted the way it was started (same port), and serving the new code.
    assert server_pid(node) != old_pid
    assert healthz(port) == 200
    assert node_json(node)["version"] == f"0.2.0+{releases.commits['v0.2.0'][:8]}"
    assert "lifecycle_probe_v020" in tables(node)  # the release's migration ran
    [row] = history(node)
    _id, result, from_version, to_version, to_commit, _detail, log, finished_at = row
    assert (result, from_version, to_version) == ("upgraded", "v0.1.0", "v0.2.0")
    assert to_commit == releases.commits["v0.2.0"]
    assert finished_at is not None
    assert "== migrating" in log and "lifecycle.0900_probe_v020" in log
    # The database was backed up first.
    backups = list((node.data_dir / "backups").glob("db-*.sqlite3"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as db:
        names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "lifecycle_upgrade" in names and "lifecycle_probe_v020" not in names

    # Nothing more to do on the same target.
    again = node.run("upgrade.sh", "--to", "v0.2.0")
    assert again.returncode == 0
    assert "already on v0.2.0" in again.stdout
    assert history(node)[-1][1] == "no_upgrade"


def test_a_release_whose_migration_fails_is_rolled_back_and_the_old_version_serves(
    node: Node, releases: Releases
) -> None:
    # The node sits on a local branch: the rollback must put it back on that branch.
    subprocess.run(["git", "checkout", "--quiet", "-b", "site"], cwd=node.root, check=True)
    port = start(node)
    assert node.manage("lifecycle", "channel", "--set", "stable").returncode == 0
    # A row written before the upgrade must survive the restore.
    query(node, "INSERT INTO auth_group (name) VALUES (?)", "written before the upgrade")
    tables_before = tables(node)
    migrations_before = query(node, "SELECT app, name FROM django_migrations ORDER BY id")

    failed = node.run("upgrade.sh")  # stable → v0.2.1, whose second migration raises

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "this release is broken on purpose" in failed.stderr  # migrate's traceback
    assert "rolled back: v0.1.0 serves again" in failed.stdout
    assert "error: upgrade to v0.2.1 failed: migrate failed" in failed.stderr
    # Code: the old commit, on the old branch.
    assert node.head() == releases.commits["v0.1.0"]
    branch = subprocess.run(
        ["git", "symbolic-ref", "--short", "HEAD"], cwd=node.root, capture_output=True, text=True
    )
    assert branch.stdout.strip() == "site"
    assert not (node.root / "apps/lifecycle/migrations/0902_broken.py").exists()
    # Database: as before (v0.2.0's and v0.2.1's good migrations had been applied, and are gone).
    assert query(node, "SELECT name FROM auth_group") == [("written before the upgrade",)]
    assert tables(node) == tables_before
    assert query(node, "SELECT app, name FROM django_migrations ORDER BY id") == migrations_before
    # The old version serves again.
    assert healthz(port) == 200
    assert node_json(node)["version"] == f"0.1.0+{releases.commits['v0.1.0'][:8]}"
    # The history says so, with the log (written after the restore, so it was kept).
    [row] = history(node)
    _id, result, from_version, to_version, _to_commit, detail, log, finished_at = row
    assert (result, from_version, to_version, detail) == (
        "rolled_back",
        "v0.1.0",
        "v0.2.1",
        "migrate failed",
    )
    assert finished_at is not None
    assert "this release is broken on purpose" in log
    assert "== restoring the database" in log and "== starting v0.1.0 again" in log
    assert "lifecycle_probe_v021" not in tables(node)


def test_it_refuses_to_upgrade_a_tree_changed_by_hand(node: Node, releases: Releases) -> None:
    readme = node.root / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    refused = node.run("upgrade.sh", "--to", "v0.2.0")
    assert refused.returncode == 2
    assert "were changed by hand" in refused.stderr
    assert node.head() == releases.commits["v0.1.0"]
    assert "local edit" in readme.read_text()


def test_its_help_lists_every_option(node: Node) -> None:
    shown = node.run("upgrade.sh", "--help")
    assert shown.returncode == 0
    for option in ("--check", "--to REF", "--channel", "--remote", "--branch", "--by", "--log"):
        assert option in shown.stdout
    wrong = node.run("upgrade.sh", "--channel", "weekly")
    assert wrong.returncode == 2
    assert "--channel must be fixed, stable, latest or unstable" in wrong.stderr


def test_the_node_path_in_these_tests_is_a_clone(node: Node) -> None:
    # Guard: the tests never upgrade the tree they run from.
    assert Path(__file__).resolve().parents[2] != node.root


SYSTEMCTL = """#!/bin/bash
# A stand-in systemctl: records each call; the server unit is this node's start.sh / stop.sh.
echo "$*" >> "$STAND_IN_RECORD"
case $1 in
is-active)
    pid=$(cat "$DATA_DIR/run/uvicorn.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
    ;;
stop)
    [[ " $* " != *" constellation-web.service "* ]] || ./stop.sh >/dev/null
    ;;
start)
    [[ " $* " != *" constellation-web.service "* ]] ||
        ./start.sh --port "$PORT" --no-celery >/dev/null
    ;;
esac
"""


def test_a_node_installed_as_services_is_restarted_with_systemctl(
    node: Node, releases: Releases, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    record = tmp_path / "systemctl.calls"
    port = free_port()
    node.env.update(
        PATH=f"{bin_dir}:{node.env['PATH']}", STAND_IN_RECORD=str(record), PORT=str(port)
    )
    # What install.sh records: the units, the server's first.
    (node.data_dir / "lifecycle").mkdir(parents=True)
    (node.data_dir / "lifecycle" / "units").write_text(
        "constellation-web.service\nconstellation-celery.service\n"
    )
    assert (
        node.run(str(bin_dir / "systemctl"), "start", "constellation-web.service").returncode == 0
    )
    assert healthz(port) == 200
    record.write_text("")

    upgraded = node.run("upgrade.sh", "--to", "v0.2.0")

    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert record.read_text().splitlines() == [
        "is-active --quiet constellation-web.service",
        "stop constellation-celery.service constellation-web.service",
        "start constellation-web.service constellation-celery.service",
    ], upgraded.stdout
    assert healthz(port) == 200
    assert node_json(node)["version"] == f"0.2.0+{releases.commits['v0.2.0'][:8]}"


def test_it_refuses_to_restart_a_server_run_in_the_foreground_by_an_unknown_manager(
    node: Node, releases: Releases
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(node.root / "start.sh"), "--port", str(port), "--no-celery", "--foreground"],
        cwd=node.root,
        env=node.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if healthz(port) == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "no server"
            time.sleep(0.2)

        refused = node.run("upgrade.sh", "--to", "v0.2.0")

        assert refused.returncode == 2
        assert "it was started with --foreground" in refused.stderr
        assert node.head() == releases.commits["v0.1.0"]
        assert healthz(port) == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
