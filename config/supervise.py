"""Run the server and, when asked, Celery's worker and beat as one foreground program.

`python -m config.supervise BIND PORT [--celery]` is what start.bat runs. A batch file cannot
stop what it started in the background: `start /b` leaves a program deaf to Ctrl+C, and after
Ctrl+C cmd.exe ends the batch without running its next line. So one Python process holds the
three: each child runs in a process group of its own (so the console's Ctrl+C reaches only this
one), and whatever ends first — Ctrl+C, SIGTERM, Ctrl+Break, or a child that exits — this
process asks every child left to stop (SIGTERM; CTRL_BREAK_EVENT on Windows), waits up to
STOP_GRACE_S for each and kills the ones that remain. It exits with the status of the child that
ended first, 0 when it was asked to stop.

The server is config/serve.py's daphne command line (edge limits from the settings); Celery runs
as Windows allows it: the solo pool, and beat as a process of its own (`-B` does not run there).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

STOP_GRACE_S = 15.0
POLL_S = 0.2
WINDOWS = os.name == "nt"

CELERY_WORKER = ["-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"]
CELERY_BEAT = [
    "-m",
    "celery",
    "-A",
    "config",
    "beat",
    "--scheduler",
    "django_celery_beat.schedulers:DatabaseScheduler",
    "--loglevel=INFO",
]


def commands(*, server_args: list[str], celery: bool, log_dir: Path) -> dict[str, list[str]]:
    """The children to run, by name: the server, and Celery's worker and beat when asked."""
    found = {"server": [sys.executable, *server_args]}
    if celery:
        found["celery worker"] = [
            sys.executable,
            *CELERY_WORKER,
            "--logfile",
            str(log_dir / "celery-worker.log"),
        ]
        found["celery beat"] = [
            sys.executable,
            *CELERY_BEAT,
            "--logfile",
            str(log_dir / "celery-beat.log"),
        ]
    return found


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    if WINDOWS:
        return subprocess.Popen(command, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    return subprocess.Popen(command, start_new_session=True)


def _ask_to_stop(process: subprocess.Popen[bytes]) -> None:
    try:
        if WINDOWS:
            # The only console event a process group of its own receives.
            os.kill(process.pid, signal.CTRL_BREAK_EVENT)
        else:
            process.terminate()
    except OSError:  # it ended meanwhile
        pass


def stop_all(children: dict[str, subprocess.Popen[bytes]], *, grace_s: float) -> None:
    """Ask every child still running to stop, wait up to grace_s, kill what is left."""
    for process in children.values():
        if process.poll() is None:
            _ask_to_stop(process)
    deadline = time.monotonic() + grace_s
    for name, process in children.items():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {grace_s:.0f} s: killed", file=sys.stderr)
            process.kill()
            process.wait()


class _Stop(Exception):
    """Raised in the main thread by SIGTERM / SIGBREAK: stop as Ctrl+C does."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def supervise(commands: dict[str, list[str]], *, grace_s: float = STOP_GRACE_S) -> int:
    """Run the commands until one ends or this process is asked to stop; stop them all."""
    for name in ("SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _raise_stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            children[name] = _start(command)
            print(f"started {name} (pid {children[name].pid})", flush=True)
        while True:
            for name, process in children.items():
                status = process.poll()
                if status is not None:
                    print(f"{name} exited with status {status}: stopping the rest", flush=True)
                    # A child that ends is a failure even with status 0: nothing ends by itself.
                    return status or 1
            time.sleep(POLL_S)
    except (KeyboardInterrupt, _Stop):
        print("stopping", flush=True)
        return 0
    finally:
        stop_all(children, grace_s=grace_s)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m config.supervise",
        description="Serve with daphne and, with --celery, run Celery's worker and beat beside it.",
    )
    parser.add_argument("bind")
    parser.add_argument("port", type=int)
    parser.add_argument("--celery", action="store_true", help="run Celery's worker and beat")
    options = parser.parse_args(argv)

    from django.conf import settings

    from config import serve

    try:
        tls = serve.tls_files(
            settings.OCPP_TLS_CERT_FILE,
            settings.OCPP_TLS_KEY_FILE,
            settings.OCPP_TLS_CLIENT_CA_FILE,
        )
        server_args = serve.server_command(
            "daphne",
            options.bind,
            options.port,
            max_frame_bytes=settings.OCPP_MAX_FRAME_BYTES,
            tls=tls,
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log_dir = Path(settings.DATA_DIR) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return supervise(commands(server_args=server_args, celery=options.celery, log_dir=log_dir))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.exit(main(sys.argv[1:]))
