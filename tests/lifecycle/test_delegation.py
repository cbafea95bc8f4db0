"""The delegated upgrade: the beat's check starts upgrade.sh through systemd-run when it is
there (a recording stand-in here), else as a detached process that really upgrades the node."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from apps.lifecycle.delegation import script_command, systemd_run_command
from tests.lifecycle.conftest import Node
from tests.lifecycle.releases import Releases

STAND_IN = """#!/bin/sh
# A stand-in systemd-run: records its arguments, one a line, and starts nothing.
printf '%s\\n' "$@" >> "$STAND_IN_RECORD"
"""


def test_it_builds_the_systemd_run_command() -> None:
    argv = systemd_run_command(
        root=Path("/srv/constellation"),
        unit="constellation-upgrade-20260101T043000Z",
        log=Path("/var/lib/c/logs/upgrade-1.log"),
        args=["--by", "beat"],
        env={"DATA_DIR": "/var/lib/c", "PATH": "/usr/bin", "SECRET_KEY": "never passed"},
        user=True,
    )
    assert argv == [
        "systemd-run",
        "--user",
        "--unit=constellation-upgrade-20260101T043000Z",
        "--collect",
        "--quiet",
        "--working-directory=/srv/constellation",
        "--setenv=DATA_DIR=/var/lib/c",
        "--setenv=PATH=/usr/bin",
        "--",
        "/srv/constellation/scripts/delegated-upgrade.sh",
        "--log",
        "/var/lib/c/logs/upgrade-1.log",
        "--",
        "--by",
        "beat",
    ]
    assert script_command(root=Path("/r"), log=Path("/l"), args=[]) == [
        "/r/scripts/delegated-upgrade.sh",
        "--log",
        "/l",
        "--",
    ]


def wait_for_text(path: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in (content := path.read_text(errors="replace")):
            return content
        time.sleep(0.2)
    raise AssertionError(
        f"{text!r} not in {path} after {timeout} s:\n"
        + (path.read_text(errors="replace") if path.exists() else "(no file)")
    )


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="upgrade.sh targets Linux")
def test_the_beat_check_starts_the_upgrade_through_systemd_run(
    node: Node, releases: Releases, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemd-run").write_text(STAND_IN)
    (bin_dir / "systemd-run").chmod(0o755)
    record = tmp_path / "systemd-run.args"
    node.env["PATH"] = f"{bin_dir}{os.pathsep}{node.env['PATH']}"
    node.env["STAND_IN_RECORD"] = str(record)
    assert node.manage("migrate", "--noinput", "-v0").returncode == 0
    assert node.manage("lifecycle", "channel", "--set", "stable").returncode == 0

    # The beat's task, run as the worker would run it (in the node's own code).
    ran = node.manage(
        "shell", "-c", "from apps.lifecycle.tasks import upgrade_check; print(upgrade_check())"
    )

    assert ran.returncode == 0, ran.stderr
    assert "upgrade available: v0.1.0 → v0.2.1; started (systemd-run)" in ran.stdout
    argv = record.read_text().splitlines()
    unit = argv[0] if os.geteuid() == 0 else argv[1]
    assert re.fullmatch(r"--unit=constellation-upgrade-\d{8}T\d{6}\d{6}Z", unit)
    assert "--collect" in argv
    assert f"--working-directory={node.root}" in argv
    assert f"--setenv=DATA_DIR={node.data_dir}" in argv
    command = argv[argv.index("--") + 1 :]
    assert command[0] == str(node.root / "scripts/delegated-upgrade.sh")
    assert command[1] == "--log"
    assert re.fullmatch(re.escape(str(node.data_dir / "logs")) + r"/upgrade-\S+\.log", command[2])
    assert command[3:] == ["--", "--by", "beat"]
    # The stand-in started nothing: the node is where it was.
    assert node.head() == releases.commits["v0.1.0"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="upgrade.sh targets Linux")
def test_without_systemd_run_the_upgrade_runs_detached_and_upgrades_the_node(
    node: Node, releases: Releases, tmp_path: Path
) -> None:
    # A PATH with every program of this one but systemd-run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in node.env["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name != "systemd-run" and not target.exists():
                target.symlink_to(entry.path)
    node.env["PATH"] = str(bin_dir)
    assert node.manage("migrate", "--noinput", "-v0").returncode == 0

    launched = node.manage("lifecycle", "launch", "--to", "v0.2.0")

    assert launched.returncode == 0, launched.stderr
    found = re.search(r"started \(detached, pid (\d+)\); log: (\S+)", launched.stdout)
    assert found, launched.stdout
    pid, log = int(found.group(1)), Path(found.group(2))
    text = wait_for_text(log, "=== delegated upgrade ended", timeout=180)
    assert "=== delegated upgrade ended: exit status 0" in text
    # It ran in a session of its own (stop.sh, stopping the worker's group, spares it).
    assert f"pid {pid}, session {pid}" in text
    assert "upgraded: v0.1.0 → v0.2.0" in text
    assert node.head() == releases.commits["v0.2.0"]
    history = node.manage(
        "shell",
        "-c",
        "from apps.lifecycle.models import Upgrade; u = Upgrade.objects.get(); "
        "print(u.result, u.started_by, u.to_version)",
    )
    assert history.stdout.strip().splitlines()[-1] == "upgraded manage.py v0.2.0"
