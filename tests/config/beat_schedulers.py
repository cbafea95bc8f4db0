"""A scheduler for tests/config/test_celery_beat.py: the real DatabaseScheduler, stopped."""

from __future__ import annotations

import os
import signal

from django_celery_beat.schedulers import DatabaseScheduler


class StoppedDuringSetUp(DatabaseScheduler):
    """Sends this process SIGTERM once, from inside its first database read of the set-up."""

    signalled = False

    def setup_schedule(self) -> None:
        print("scheduler set-up begins", flush=True)
        super().setup_schedule()
        print("scheduler set-up ends", flush=True)

    def enabled_models_qs(self):  # type: ignore[no-untyped-def]
        if not StoppedDuringSetUp.signalled:
            StoppedDuringSetUp.signalled = True
            os.kill(os.getpid(), signal.SIGTERM)
        return super().enabled_models_qs()
