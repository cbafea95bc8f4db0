"""Run upgrade.sh outside the server and worker processes it restarts.

Through `systemd-run` when it is there (a transient unit of its own, so stopping the worker's
unit does not stop the upgrade), else as a detached process in its own session (stop.sh stops
the worker's process group, not this one).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# Passed to a systemd-run unit, which starts from the manager's environment, not ours.
PASSED_ENV = ("DATA_DIR", "DJANGO_SETTINGS_MODULE", "PATH", "HOME", "LANG")


@dataclass(frozen=True)
class Launch:
    """How a delegated upgrade was started: `systemd-run` or `detached`, and where it logs."""

    how: str
    argv: list[str]
    log: Path
    unit: str = ""
    pid: int | None = None


def delegated_script(root: Path) -> Path:
    return root / "scripts" / "delegated-upgrade.sh"


def script_command(*, root: Path, log: Path, args: list[str]) -> list[str]:
    """Return the command line of the delegated script: its log, then upgrade.sh's arguments."""
    return [str(delegated_script(root)), "--log", str(log), "--", *args]


def systemd_run_command(
    *, root: Path, unit: str, log: Path, args: list[str], env: dict[str, str], user: bool
) -> list[str]:
    """Return the `systemd-run` command that runs the delegated script as a transient unit."""
    argv = ["systemd-run"]
    if user:
        argv.append("--user")
    argv += [f"--unit={unit}", "--collect", "--quiet", f"--working-directory={root}"]
    for name in PASSED_ENV:
        if env.get(name):
            argv.append(f"--setenv={name}={env[name]}")
    argv.append("--")
    return argv + script_command(root=root, log=log, args=args)


def launch(*, root: Path, unit: str, log: Path, args: list[str]) -> Launch:
    """Start the delegated upgrade and return at once; systemd-run first, else detached."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if shutil.which("systemd-run"):
        argv = systemd_run_command(
            root=root, unit=unit, log=log, args=args, env=env, user=os.geteuid() != 0
        )
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("systemd-run failed (%s): starting the upgrade detached", exc)
        else:
            if result.returncode == 0:
                return Launch(how="systemd-run", argv=argv, log=log, unit=unit)
            # No systemd running (a container), or no right to start units: detached it is.
            logger.warning(
                "systemd-run exited %s (%s): starting the upgrade detached",
                result.returncode,
                result.stderr.strip()[:300],
            )
    argv = script_command(root=root, log=log, args=args)
    process = subprocess.Popen(
        argv,
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own session and process group: stop.sh spares it
        close_fds=True,
    )
    return Launch(how="detached", argv=argv, log=log, pid=process.pid)
