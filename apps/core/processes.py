"""This server process's identity, its liveness, and the sweep of processes that died.

Several server processes may share one database, and each holds its own chargers' sockets
(and may run simulators). What a process holds is recorded with its identity (a random id,
`this_process()`), so that when it dies — SIGKILL, the OOM killer, a power cut: no shutdown
code runs — another process, or the same one started again, can tell that nobody holds it
any more and say so (a station is no longer shown connected without a socket).

- A serving process registers (inserts its `ServerProcess` row) before it admits its first
  charger (`process_ensure_registered`), and at start-up (`process_start`: the ASGI lifespan
  where the server has one, else its first request; see config/asgi.py), which also sweeps
  once and starts a daemon thread that refreshes the row's `seen_at` every BEAT_S seconds
  and sweeps again each time. The Celery beat sweeps too (`apps.core.tasks`).
- A process is dead when its row is gone, when `seen_at` is older than STALE_AFTER, or —
  on the same host and pid namespace (Linux: same boot id and /proc/self/ns/pid) — when its
  pid no longer runs or belongs to a process started at another time. This process is never
  dead to itself.
- `processes_sweep` sends `process_sweep`: the apps that record holders (stations'
  `connected_by`, simulators' `run_by`) release what dead processes held, asking
  `processes_dead` about the holders they find; then the rows of dead processes are deleted.
- A clean shutdown (`process_end`, at exit) sends `process_ending` for this process and
  deletes its row.

A live process is never released: its row is fresh, and its pid runs. One whose beats could
not reach the database for STALE_AFTER (a long outage) may be taken for dead: its beat then
finds its row gone and registers again (its chargers show connected again when they
reconnect).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.db import close_old_connections, transaction
from django.dispatch import Signal

from apps.core.models import ServerProcess
from apps.core.timeutil import utcnow

logger = logging.getLogger(__name__)

# How often a process refreshes its row (and sweeps); after STALE_AFTER without a refresh
# it is taken for dead by the others.
BEAT_S = 10.0
STALE_AFTER = timedelta(seconds=60)

# Sent by `processes_sweep` (no arguments): release what dead processes held. Receivers find
# the holders they record and ask `processes_dead` which of them are dead.
process_sweep = Signal()
# Sent by `process_end` with `process_id`: that process is shutting down, release its holds.
process_ending = Signal()
# Sent by `process_start` (no arguments) once this process serves: the apps that run
# something beside the server (this node's record, the hardware services) start it. A
# receiver's failure is logged and does not stop the others.
process_serving = Signal()


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    host: str
    pid: int
    pid_scope: str
    pid_start: str


_lock = threading.RLock()
_identity: Identity | None = None
_registered = ""  # the id whose row this process inserted
_thread: threading.Thread | None = None
_stopping = threading.Event()
_exit_hook_set = False


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_scope() -> str:
    """Where a pid names one process: this boot of this kernel, this pid namespace (Linux)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{boot}/{namespace}" if boot else ""


def _pid_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks after boot, from /proc); None: no such
    process; "" where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def this_process() -> Identity:
    """Return this process's identity (a new one after a fork)."""
    global _identity
    identity = _identity
    if identity is None or identity.pid != os.getpid():
        with _lock:
            pid = os.getpid()
            if _identity is None or _identity.pid != pid:
                scope = _pid_scope()
                _identity = Identity(
                    id=secrets.token_hex(16),
                    host=socket.gethostname()[:255],
                    pid=pid,
                    pid_scope=scope,
                    pid_start=(_pid_start(pid) or "") if scope else "",
                )
            identity = _identity
    return identity


def process_register() -> str:
    """Insert (or refresh) this process's row; return its id."""
    global _registered
    identity = this_process()
    now = utcnow()
    ServerProcess.objects.update_or_create(
        id=identity.id,
        defaults={
            "host": identity.host,
            "pid": identity.pid,
            "pid_scope": identity.pid_scope,
            "pid_start": identity.pid_start,
            "seen_at": now,
        },
        create_defaults={
            "host": identity.host,
            "pid": identity.pid,
            "pid_scope": identity.pid_scope,
            "pid_start": identity.pid_start,
            "started_at": now,
            "seen_at": now,
        },
    )
    _registered = identity.id
    return identity.id


def process_ensure_registered() -> str:
    """Return this process's id, its row inserted first if it is not yet (once: cheap after).

    Called before a station is recorded as held by this process, so that a holder always
    names a registered process (a holder without a row is one that ended or was swept).
    """
    identity = this_process()
    if _registered != identity.id:
        with _lock:
            if _registered != identity.id:
                process_register()
    return identity.id


def process_beat() -> None:
    """Refresh this process's `seen_at`; register again if its row was taken for dead."""
    identity = this_process()
    if _registered != identity.id:
        process_register()
        return
    if not ServerProcess.objects.filter(pk=identity.id).update(seen_at=utcnow()):
        logger.warning("server process %s was taken for dead: registering again", identity.id)
        process_register()


def _alive(row: ServerProcess, now: datetime, me: Identity) -> bool:
    if row.id == me.id:
        return True
    if now - row.seen_at > STALE_AFTER:
        return False
    if row.pid_scope and row.pid_scope == me.pid_scope and row.host == me.host:
        started = _pid_start(row.pid)
        if started is None:
            return False  # no such process on this host
        if row.pid_start and started and started != row.pid_start:
            return False  # the pid was reused by a later process
    return True


def processes_dead(*, process_ids: Iterable[str]) -> set[str]:
    """Of `process_ids`, those that name no live process: no row, stale, or pid gone.

    Never this process, never the empty id. Read the holders first and ask this after: a
    process inserts its row before (or with) anything it holds.
    """
    me = this_process()
    ids = {pid for pid in process_ids if pid and pid != me.id}
    if not ids:
        return set()
    now = utcnow()
    rows = {row.id: row for row in ServerProcess.objects.filter(pk__in=ids)}
    return {pid for pid in ids if pid not in rows or not _alive(rows[pid], now, me)}


def processes_sweep() -> list[str]:
    """Release what dead processes held, then forget their rows; return the ids forgotten."""
    process_sweep.send(sender=ServerProcess)
    me = this_process()
    now = utcnow()
    dead = [row.id for row in ServerProcess.objects.exclude(pk=me.id) if not _alive(row, now, me)]
    if dead:
        with transaction.atomic():
            # Re-read under lock: one that beat meanwhile is alive after all.
            rows = ServerProcess.objects.select_for_update().filter(pk__in=dead)
            dead = [row.id for row in rows if not _alive(row, now, me)]
            ServerProcess.objects.filter(pk__in=dead).delete()
        for pid in dead:
            logger.info("server process %s is dead: what it held is released", pid)
    return dead


def process_end() -> None:
    """This process is shutting down: release what it holds, and delete its row."""
    global _registered
    identity = _identity
    if identity is None or _registered != identity.id or identity.pid != os.getpid():
        return
    _stopping.set()
    try:
        with transaction.atomic():
            process_ending.send(sender=ServerProcess, process_id=identity.id)
            ServerProcess.objects.filter(pk=identity.id).delete()
        _registered = ""
        logger.info("server process %s ended: its stations are released", identity.id)
    except Exception:
        logger.warning("server process %s: could not record its end", identity.id, exc_info=True)


@contextlib.contextmanager
def _fresh_connection() -> Iterator[None]:
    """Work outside a request: drop a broken or expired database connection before and after
    (the thread's may have broken long ago)."""
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()


def _end_at_exit() -> None:
    with _fresh_connection():
        process_end()


def _beat_forever() -> None:
    while not _stopping.wait(BEAT_S):
        try:
            with _fresh_connection():
                process_beat()
                processes_sweep()
        except Exception:
            logger.warning("server process liveness: could not beat or sweep", exc_info=True)


_start_lock = threading.Lock()


def process_started() -> bool:
    """Tell whether `process_start` ran in this process (its end included)."""
    return _thread is not None


def process_start() -> None:
    """Start this server process: register, sweep once, beat from now on, end at exit.

    Once per process: a caller that comes while it runs waits for it (a server's first
    requests are served after the start-up sweep), later ones return at once. A failure
    (database down) is logged: the beat registers and sweeps when it can.
    """
    global _thread, _exit_hook_set
    with _start_lock:
        if process_started():
            return
        try:
            with _fresh_connection():
                process_ensure_registered()
                processes_sweep()
        except Exception:
            logger.warning("server process start-up: could not register or sweep", exc_info=True)
        _stopping.clear()
        _thread = threading.Thread(target=_beat_forever, name="server-process", daemon=True)
        _thread.start()
        if not _exit_hook_set:
            atexit.register(_end_at_exit)
            _exit_hook_set = True
        with _fresh_connection():
            for receiver, result in process_serving.send_robust(sender=ServerProcess):
                if isinstance(result, Exception):
                    logger.warning(
                        "server process start-up: %r failed",
                        receiver,
                        exc_info=(type(result), result, result.__traceback__),
                    )
