"""`celery -A config beat` stopped while its scheduler is still being set up ends at once.

Celery's own handler saves the schedule through a lazy property and, stopped during the set-up,
built a second scheduler inside the first one's database read: the connection broke and beat
ran on until config.supervise killed it (CI, under load). The beat here is the real command on a
migrated data folder; only its scheduler sends itself the SIGTERM at the worst moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_beat_stopped_during_its_set_up_exits_without_a_second_scheduler(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "CELERY_QUEUE": "on"}
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
    beat = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            "--scheduler",
            "tests.config.beat_schedulers:StoppedDuringSetUp",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = beat.stdout + beat.stderr
    assert beat.returncode == 0, output
    # One scheduler, cut short: none built inside it to "save" a schedule never run.
    assert output.count("scheduler set-up begins") == 1, output
    assert "scheduler set-up ends" not in output
    assert "closed database" not in output
