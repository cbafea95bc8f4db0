"""Work of the Slack bot done after the moment that asked for it: never on a charger's path.

`run_later(task, function, *args)` gives it to the Celery worker when one takes this node's
tasks (the task named `task`, with `args`), else to a small pool of background threads of
this process (`function(*args)`): one thread per task, so a task's jobs run in order and one
waiting for a charger's answer does not hold back notifications. Nothing here raises to the
caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import current_app
from django.db import close_old_connections

from apps.nodes.queue import queue_running

logger = logging.getLogger("apps.integrations.slack")

_lock = threading.Lock()
_pools: dict[str, ThreadPoolExecutor] = {}


def _pool(task: str) -> ThreadPoolExecutor:
    with _lock:
        if task not in _pools:
            _pools[task] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack")
        return _pools[task]


def _run(function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        function(*args)
    except Exception:
        logger.exception("slack background job %s failed", getattr(function, "__name__", "?"))
    finally:
        close_old_connections()


def run_later(task: str, function: Callable[..., Any], *args: Any) -> None:
    """Run `function(*args)` soon, off this thread: as Celery task `task`, or in its thread."""
    try:
        if queue_running():
            current_app.send_task(task, args=list(args))
            return
        _pool(task).submit(_run, function, args)
    except Exception:
        logger.exception("slack background job %s not queued", task)
