"""A lock one process of this node holds for its life: who runs the devices, who runs the jobs.

Several server processes may serve one node (a Watchtower's workers); some work must run in
exactly one of them. The first process to take the lock file DATA_DIR/run/<name>.lock keeps it
(its pid written inside) until it releases it or dies; the kernel frees it with the process.
On Windows (no fcntl) one process serves (start.bat), so the lock is always taken.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

from django.conf import settings


class NodeLock:
    """The lock file DATA_DIR/run/`name`.lock, taken without waiting."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._file: IO[str] | None = None
        self._guard = threading.Lock()

    def take(self) -> bool:
        """Take the lock for this process; False when another process holds it."""
        with self._guard:
            if self._file is not None:
                return True
            try:
                import fcntl
            except ImportError:
                return True
            run = Path(settings.DATA_DIR) / "run"
            run.mkdir(parents=True, exist_ok=True)
            handle = open(run / f"{self.name}.lock", "a+")  # held for the process's life
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self._file = handle
            return True

    def release(self) -> None:
        """Let another process take it."""
        with self._guard:
            if self._file is not None:
                self._file.close()
                self._file = None
