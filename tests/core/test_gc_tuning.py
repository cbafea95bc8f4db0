"""The server process's garbage collector is set for many long-lived connections."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from apps.core.gc_tuning import THRESHOLDS

REPO = Path(__file__).resolve().parents[2]


def test_loading_the_asgi_application_freezes_start_up_and_raises_the_thresholds(tmp_path):
    probe = "import gc, config.asgi; print(*gc.get_threshold(), gc.get_freeze_count())"
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    *thresholds, frozen = map(int, found.stdout.split())
    assert tuple(thresholds) == THRESHOLDS
    assert frozen > 10_000  # Django and the apps: never walked by a collection again
