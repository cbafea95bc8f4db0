"""Database work off the event loop, with group commit.

Charger connections hand their blocking work (a frame's handler, the message log, ...) to a
few dedicated threads. Each thread takes every job waiting, runs them in ONE database
transaction — each job in its own savepoint, so one failing job undoes only itself — commits
once, and only then reports the jobs done. A charger is therefore answered only after its
data is committed, and a thousand concurrent messages cost a handful of commits instead of
a thousand (with SQLite, whose writers take turns, that is the difference between queueing
on a lock and flowing).

The event loop hands work over with `await executor.run(fn, *args)`: one queue put per job,
and one wake-up of the loop per batch to settle every job of it (asgiref's sync_to_async
costs a context copy, a chained future and a wake-up per job). Code running in these threads
can still reach the event loop with async_to_sync (channel layers), as in any Django view:
the thread is told which loop its job came from, as asgiref's SyncToAsync would.

Rows given to `insert_rows(model, rows)` — meter readings, the message log — and updates
given to `update_at_commit` are collected across the batch and written with one statement
per model (and per updated fields), inside the transaction, just before the commit; the
rows of a job that fails are dropped with it.

The seam with the statement kit (apps/core/sqlkit.py), which sits below this module and
knows nothing of batches: for the length of a batch this module binds the batch's connection
wrapper and its savepoint maker to the thread (`sqlkit.bind`), so that the kit's statements
run on the batch's connection and a job's first write makes the job's savepoint; it runs its
own statements through the kit (`run_control` for savepoints, `fast_insert` and `run_many`
for the queued rows and updates). Hand-written SQL lives in the apps' statements modules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from apps.core import sqlkit
from apps.core.sqlkit import Row

logger = logging.getLogger(__name__)

_local = threading.local()
_db = sqlkit.connection_wrapper
_run_control = sqlkit.run_control


def insert_rows(model: type[Model], rows: list[Row], *, ignore_conflicts: bool = False) -> None:
    """Insert `rows`: at the end of the current batch, or now outside one.

    A row is an instance or, cheaper on the per-message path, a dict of field attnames
    (what is left out takes the field's default; auto_now(_add) fields are stamped; a
    sqlkit.Lookup value is found by the database as the row goes in).
    `ignore_conflicts`: rows that break a unique constraint (replays) are skipped.
    """
    pending = getattr(_local, "rows", None)
    if pending is None:
        instances = [
            row if isinstance(row, Model) else model(**sqlkit.resolved(row)) for row in rows
        ]
        model.objects.bulk_create(instances, ignore_conflicts=ignore_conflicts)
        return
    pending.setdefault((model, ignore_conflicts), []).extend(rows)


def update_at_commit(instance: Model, fields: list[str]) -> None:
    """Write `fields` of a stored instance with the batch's inserts; now outside a batch.

    Inside a batch the UPDATE runs just before the commit, one statement for all its jobs'
    updates of the same fields, and not at all if the job fails. Only for a row nothing
    else reads before the commit: one the job holds locked, whose next change comes in a
    later batch. No signals are sent (see sqlkit.fast_update).
    """
    sql, params = sqlkit.update_statement(instance, fields)
    pending = getattr(_local, "rows", None)
    if pending is None:
        sqlkit.run_statement(sql, params)
    else:
        pending.setdefault((_Update, sql), []).append(params)


class _Update:
    """Key of queued UPDATE parameters among a batch's pending rows (see update_at_commit)."""


def _flush_rows(pending: dict[tuple[Any, Any], list]) -> None:
    for (model, detail), rows in pending.items():
        if not rows:
            continue
        if model is _Update:  # queued by update_at_commit; detail is its SQL
            sqlkit.run_many(detail, rows)
        else:
            sqlkit.fast_insert(model, rows, ignore_conflicts=detail)


def _drop_broken_connection() -> None:
    """Close the thread's connection if an error left it unusable (a database restart).

    Unlike close_old_connections() it keeps a healthy connection whatever CONN_MAX_AGE says:
    these threads live as long as the process, and reconnecting per batch costs more than
    the batch.
    """
    if connection.connection is not None and connection.errors_occurred:
        connection.errors_occurred = False
        if not connection.is_usable():
            connection.close()


# The fewest jobs of one event-loop turn given to a thread of their own (see _hand_over).
MIN_SHARE = 8

# A queued job: its future (concurrent, or asyncio on `loop`), the loop or None, the call.
_Job = tuple[Any, asyncio.AbstractEventLoop | None, Callable, tuple, dict]


def _settle(results: list[tuple[asyncio.Future, bool, Any]]) -> None:
    """On the event loop: hand a batch's outcomes to the coroutines awaiting them."""
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _started(job: _Job) -> bool:
    """Tell whether the job still wants running (its caller did not cancel it)."""
    future, loop = job[0], job[1]
    if loop is None:
        return future.set_running_or_notify_cancel()
    return not future.cancelled()


class GroupCommitExecutor(Executor):
    """An Executor whose threads run queued jobs in batches, one transaction per batch."""

    def __init__(self, threads: int = 1, max_batch: int = 256, name: str = "db") -> None:
        # Lists of jobs (those of one event-loop turn, or one submit()), None to stop.
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._handover: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._max_batch = max_batch
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        self._shutdown = False
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        if self._shutdown:
            raise RuntimeError("executor is shut down")
        future: Future = Future()
        self._queue.put([(future, None, fn, args, kwargs)])
        return future

    def run(self, fn: Callable, /, *args: Any) -> asyncio.Future:
        """From a coroutine: run `fn(*args)` in a batch; await the result, there once committed."""
        if self._shutdown:
            raise RuntimeError("executor is shut down")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        # The jobs of one turn of the event loop go over together, at the end of the turn:
        # one wake-up of a database thread instead of one per job (each of which took the
        # GIL from the loop in the middle of its turn), and bigger batches.
        waiting = self._handover.get(loop)
        if waiting is None:
            waiting = self._handover[loop] = []
            loop.call_soon(self._hand_over, loop)
        waiting.append((future, loop, fn, args, {}))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._handover.pop(loop)
        # With several threads (PostgreSQL), a long turn is shared out so that they wait on
        # the database side by side; each share still big enough to be worth a commit.
        shares = min(len(self._threads), len(jobs) // MIN_SHARE) or 1
        if shares == 1:
            self._queue.put(jobs)
            return
        size = -(-len(jobs) // shares)
        for start in range(0, len(jobs), size):
            self._queue.put(jobs[start : start + size])

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _take_batch(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = list(first)
        while len(batch) < self._max_batch:
            try:
                jobs = self._queue.get_nowait()
            except queue.Empty:
                break
            if jobs is None:  # shutting down: finish this batch, stop after it
                self._queue.put(None)
                break
            batch.extend(jobs)
        return batch

    def _work(self) -> None:
        while (batch := self._take_batch()) is not None:
            batch = [job for job in batch if _started(job)]
            if batch:
                self._run_batch(batch)
        connection.close()

    def _run_batch(self, batch: list[_Job]) -> None:
        _drop_broken_connection()
        outcomes: list[tuple[bool, Any]] = []
        pending: dict[tuple[type[Model], bool], list[Row]] = {}
        _local.rows = pending
        db = connections[DEFAULT_DB_ALIAS]
        sqlkit.bind(db, _make_savepoint)
        _local.savepoint_open = _local.savepoint_wanted = False
        try:
            with transaction.atomic(), db.execute_wrapper(_before_statement):
                for _, loop, fn, args, kwargs in batch:
                    if loop is not None:
                        _tell_loop(loop)
                    sizes = {key: len(rows) for key, rows in pending.items()}
                    try:
                        outcomes.append((True, _run_job(fn, args, kwargs)))
                    except BaseException as exc:  # the job's own failure: its savepoint is undone
                        outcomes.append((False, exc))
                        _drop_rows_since(pending, sizes)  # and so are the rows it queued
                _local.rows = None
                _flush_rows(pending)
        except BaseException as exc:  # the batch could not commit: nothing of it is stored
            logger.warning("a batch of %d jobs could not commit: %r", len(batch), exc)
            outcomes = [(False, exc)] * len(batch)
        finally:
            _local.rows = None
            sqlkit.bind(None)
            _local.savepoint_open = _local.savepoint_wanted = False
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
        for (future, loop, *_), (ok, value) in zip(batch, outcomes, strict=True):
            if loop is not None:
                by_loop.setdefault(loop, []).append((future, ok, value))
            elif ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, results)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _drop_rows_since(pending: dict[tuple[Any, Any], list], sizes: dict) -> None:
    """Forget the rows queued since `sizes` (each key's count of queued rows) was taken."""
    for key, rows in pending.items():
        del rows[sizes.get(key, 0) :]


class JobUndone(RuntimeError):
    """A job swallowed the failure of one of its statements: its writes were undone."""


def _run_job(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run one job of a batch in its own savepoint, as `transaction.atomic()` would.

    Its failure undoes its writes and forgets its on-commit hooks, nothing else of the
    batch. A job that catches the failure of one of its statements and carries on fails
    all the same (JobUndone): what it did may be gone, so what it returns may not be used.
    The savepoint is made just before the job's first statement (many jobs, such as a meter
    reading, only queue rows and run none) and its statements go straight to the driver.
    On PostgreSQL, where each statement is a round trip, a job's savepoint is left for the
    next one to release with its own ("RELEASE ...; SAVEPOINT ...": one statement) or for
    the commit.
    """
    db = _db()
    keep_open = db.vendor == "postgresql"
    hooks = len(db.run_on_commit)
    _local.savepoint_wanted = True
    try:
        result = fn(*args, **kwargs)
    except BaseException:
        _undo_job(hooks, keep_open)
        raise
    if db.needs_rollback or (keep_open and _aborted(db)):
        # An inner atomic block failed, or a statement failed (PostgreSQL then refuses the
        # rest of the transaction), and the job carried on: its writes are undone, and it
        # fails. Its result may not be returned: it would acknowledge work that is not
        # committed (issue #14: a StartTransaction answered with an id stored nowhere).
        _undo_job(hooks, keep_open)
        raise JobUndone("a statement of the job failed and the job carried on: undone")
    if not _local.savepoint_wanted and not keep_open:
        _run_control("RELEASE SAVEPOINT batch_job")
        _local.savepoint_open = False
    _local.savepoint_wanted = False
    return result


@contextmanager
def undone_on_error() -> Iterator[None]:
    """Undo everything the enclosed code wrote if it raises: statements, queued rows, hooks.

    For work whose failure is answered rather than raised (an OCPP handler's error becomes a
    CALLERROR and its job goes on to log the frame): nothing of the failed part may be
    committed with the rest. In a batch, before the job's first write (a handler, first in
    its job), this costs nothing more: the job's own savepoint, made lazily, is rolled back
    to; later in a job, it is an atomic block. Outside a batch it does nothing: the caller's
    own transaction decides (the engine's unit tests run handlers without a database).
    """
    pending = getattr(_local, "rows", None)
    if pending is None:
        yield
        return
    sizes = {key: len(rows) for key, rows in pending.items()}
    try:
        if _local.savepoint_wanted:
            hooks = len(_db().run_on_commit)
            try:
                yield
            except BaseException:
                _undo_job(hooks, keep_open=_db().vendor == "postgresql")
                # Later statements of the job (its log) make a savepoint of their own again.
                _local.savepoint_wanted = True
                raise
        else:
            with transaction.atomic():
                yield
    except BaseException:
        _drop_rows_since(pending, sizes)
        raise


def _make_savepoint() -> None:
    """Before the first statement of a job: make its savepoint (see _run_job)."""
    if not getattr(_local, "savepoint_wanted", False):
        return
    _local.savepoint_wanted = False
    if _local.savepoint_open:
        _run_control("RELEASE SAVEPOINT batch_job; SAVEPOINT batch_job")
    else:
        _run_control("SAVEPOINT batch_job")
    _local.savepoint_open = True


def _before_statement(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    """Django execute wrapper, in a batch: an ORM statement of a job makes its savepoint."""
    _make_savepoint()
    return execute(sql, params, many, context)


def _aborted(db: BaseDatabaseWrapper) -> bool:
    """Tell whether PostgreSQL's transaction is in error (libpq's own state: no round trip)."""
    info = getattr(db.connection, "info", None)
    status = getattr(info, "transaction_status", None)
    return status is not None and status.name == "INERROR"


def _undo_job(hooks: int, keep_open: bool) -> None:
    db = _db()
    del db.run_on_commit[hooks:]
    db.needs_rollback = False
    if _local.savepoint_wanted:  # no statement ran: nothing to undo in the database
        _local.savepoint_wanted = False
        return
    # ROLLBACK TO keeps the savepoint: released here, or by the next job or the commit.
    _run_control("ROLLBACK TO SAVEPOINT batch_job")
    if not keep_open:
        _run_control("RELEASE SAVEPOINT batch_job")
        _local.savepoint_open = False


def _tell_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let async_to_sync in this thread run on the job's loop (as SyncToAsync's threads do)."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop", None) is not loop:
        local.main_event_loop = loop
        local.main_event_loop_pid = os.getpid()
