from __future__ import annotations

from celery import shared_task

from apps.core.processes import processes_sweep


@shared_task
def sweep_server_processes() -> int:
    """Release what dead server processes held (stations, simulators); forget them."""
    return len(processes_sweep())
