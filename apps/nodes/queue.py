"""The Celery Queue feature: with it, a Celery worker and beat run beside the server (start.sh
starts them); without it, nothing scheduled or queued is lost — the server does the work.

Whether a worker runs is the setting CELERY_QUEUE: "on" (a worker runs: start.sh says so when
it started one, or the operator runs it as its own service), "off" (none), or "auto" (the
default: as the node's celery-queue feature says). Without a worker:

- every task enqueued runs at once in the process that enqueues it
  (`task_always_eager`; set in the settings from CELERY_QUEUE=off, and at server start for
  "auto"), e.g. apps.security's mail of a security event;
- the periodic jobs of CELERY_BEAT_SCHEDULE run in the server on their own intervals: one
  process of the node runs them (a file lock in DATA_DIR/run, as the hardware services do),
  in a daemon thread started when the server process serves (`process_serving`). Each runs
  once at start, then every interval. It re-asks each tick, so a worker that takes over
  (CELERY_QUEUE/feature on) is not doubled.

Jobs are found by their task names in the settings (as Celery's beat finds them), so this
module imports no app above its layer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

from apps.core.nodelock import NodeLock
from apps.nodes.features import CELERY_QUEUE, feature_active

logger = logging.getLogger(__name__)

TICK_S = 5.0


def queue_running() -> bool:
    """Tell whether a Celery worker takes this node's tasks (CELERY_QUEUE, else the feature)."""
    mode = str(getattr(settings, "CELERY_QUEUE", "auto")).lower()
    if mode == "on":
        return True
    if mode == "off":
        return False
    return feature_active(CELERY_QUEUE)


@dataclass(slots=True)
class Job:
    name: str
    task: str
    every_s: float
    due: float = 0.0  # monotonic time of the next run (0: at once)


def local_jobs() -> list[Job]:
    """Return CELERY_BEAT_SCHEDULE's jobs that have an interval in seconds."""
    jobs = []
    for name, entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).items():
        schedule = entry.get("schedule")
        if isinstance(schedule, int | float) and schedule > 0:
            jobs.append(Job(name, entry["task"], float(schedule)))
        else:  # a crontab would need Celery's own scheduler: say so instead of skipping quietly
            logger.warning("local beat: job %s has no interval in seconds; not run", name)
    return jobs


class LocalBeat:
    """Run due jobs in this process (the server's stand-in for Celery's beat)."""

    def __init__(self, jobs: list[Job], clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self.clock = clock

    def run_due(self) -> list[str]:
        """Run every job that is due; return their names. A failing job is logged only."""
        ran = []
        for job in self.jobs:
            now = self.clock()
            if now < job.due:
                continue
            job.due = now + job.every_s
            close_old_connections()
            try:
                result = import_string(job.task).apply()
                if result.failed():
                    logger.warning("local beat: job %s failed: %r", job.name, result.result)
            except Exception:
                logger.warning("local beat: job %s failed", job.name, exc_info=True)
            finally:
                close_old_connections()
            ran.append(job.name)
        return ran


_lock = threading.Lock()
_stop = threading.Event()
_thread: threading.Thread | None = None
# One process of the node runs the jobs.
_node_lock = NodeLock("local-beat")


def _beat_forever(beat: LocalBeat) -> None:
    while not _stop.is_set():
        try:
            if not queue_running():
                beat.run_due()
        except Exception:  # the database may be down: try again next tick
            logger.warning("local beat: tick failed", exc_info=True)
        _stop.wait(TICK_S)


def local_beat_start(**_kwargs: object) -> bool:
    """Without a Celery worker, run queued tasks eagerly and the periodic jobs in this process.

    Return True when this process runs the jobs. Connected to `process_serving`.
    """
    global _thread
    if queue_running():
        return False
    from celery import current_app

    # Enqueued tasks would wait for a worker that never comes: run them where they are sent.
    current_app.conf.task_always_eager = True
    with _lock:
        if _thread is not None and _thread.is_alive():
            return True
        if not _node_lock.take():
            logger.info("local beat: another process of this node runs the periodic jobs")
            return False
        _stop.clear()
        _thread = threading.Thread(
            target=_beat_forever, args=(LocalBeat(local_jobs()),), name="local-beat", daemon=True
        )
        _thread.start()
    logger.info("no Celery worker: the periodic jobs run in this server process")
    return True


def local_beat_stop(timeout: float = 5.0) -> None:
    """Stop the local beat and release its lock."""
    global _thread
    with _lock:
        _stop.set()
        if _thread is not None:
            _thread.join(timeout)
            _thread = None
        _node_lock.release()
