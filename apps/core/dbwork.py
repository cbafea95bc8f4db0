"""Database work off the event loop, with group commit.

Charger connections hand their blocking work (a frame's handler, the message log, ...) to a
few dedicated threads. Each thread takes every job waiting, runs them in ONE database
transaction — each job in its own savepoint, so one failing job undoes only itself — commits
once, and only then reports the jobs done. A charger is therefore answered only after its
data is committed, and a thousand concurrent messages cost a handful of commits instead of
a thousand (with SQLite, whose writers take turns, that is the difference between queueing
on a lock and flowing).

Used through asgiref (`sync_to_async(..., executor=...)`), so code running in these threads
can still reach the event loop (async_to_sync, channel layers) as in any Django view.

Rows given to `insert_rows(model, rows)` — meter readings, the message log — are collected
across the batch and inserted with one statement per model, inside the transaction, just
before the commit; the rows of a job that fails are dropped with it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict

logger = logging.getLogger(__name__)

_local = threading.local()


def insert_rows(model: type[Model], rows: list[Model], *, ignore_conflicts: bool = False) -> None:
    """Insert `rows`: at the end of the current batch, or now outside one.

    `ignore_conflicts`: rows that break a unique constraint (replays) are skipped.
    """
    pending = getattr(_local, "rows", None)
    if pending is None:
        model.objects.bulk_create(rows, ignore_conflicts=ignore_conflicts)
        return
    pending.setdefault((model, ignore_conflicts), []).extend(rows)


def _flush_rows(pending: dict[tuple[type[Model], bool], list[Model]]) -> None:
    for (model, ignore_conflicts), rows in pending.items():
        if rows:
            fast_insert(model, rows, ignore_conflicts=ignore_conflicts)


def _adapter(field: Any) -> Callable[[Any], Any] | None:
    """How a column's Python value becomes a database parameter (None: as it is)."""
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    if kind in ("JSONField", "DecimalField", "DateField", "TimeField", "UUIDField"):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def fast_insert(model: type[Model], rows: list[Model], *, ignore_conflicts: bool) -> None:
    """Insert rows with one prepared statement (executemany), as bulk_create would.

    bulk_create compiles every value of every row through the ORM; on the per-message path
    that cost more than the database work. Here each column's conversion is decided once:
    datetimes go through the backend's adapter, everything else as it is. No signals are
    sent (bulk_create sends none either) and primary keys are not read back.
    """
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    ops = connection.ops
    adapt = [_adapter(field) for field in fields]
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    sql = (
        f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(model._meta.db_table)}"
        f" ({columns}) VALUES ({placeholders})"
    )
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    if suffix:
        sql = f"{sql} {suffix}"
    stamped = [
        field
        for field in fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]
    params = []
    for row in rows:
        for field in stamped:
            field.pre_save(row, add=True)
        values = []
        for field, adapter in zip(fields, adapt, strict=True):
            value = getattr(row, field.attname)
            if value is None and field.has_default():
                value = field.get_default()
            elif isinstance(value, str) and "\x00" in value:
                # PostgreSQL text cannot hold NUL: one charger's garbage must not make the
                # whole batch (everybody's messages) fail to commit.
                value = value.replace("\x00", "\ufffd")
            values.append(adapter(value) if adapter is not None and value is not None else value)
        params.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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


class GroupCommitExecutor(Executor):
    """An Executor whose threads run queued jobs in batches, one transaction per batch."""

    def __init__(self, threads: int = 1, max_batch: int = 256, name: str = "db") -> None:
        self._queue: queue.SimpleQueue[tuple[Future, Callable, tuple, dict] | None] = (
            queue.SimpleQueue()
        )
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
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _take_batch(self) -> list[tuple[Future, Callable, tuple, dict]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # shutting down: finish this batch, stop after it
                self._queue.put(None)
                break
            batch.append(job)
        return batch

    def _work(self) -> None:
        while (batch := self._take_batch()) is not None:
            batch = [job for job in batch if job[0].set_running_or_notify_cancel()]
            if batch:
                self._run_batch(batch)
        connection.close()

    def _run_batch(self, batch: list[tuple[Future, Callable, tuple, dict]]) -> None:
        _drop_broken_connection()
        outcomes: list[tuple[bool, Any]] = []
        pending: dict[tuple[type[Model], bool], list[Model]] = {}
        _local.rows = pending
        try:
            with transaction.atomic():
                for _, fn, args, kwargs in batch:
                    sizes = {key: len(rows) for key, rows in pending.items()}
                    try:
                        with transaction.atomic():
                            outcomes.append((True, fn(*args, **kwargs)))
                    except BaseException as exc:  # the job's own failure: its savepoint is undone
                        outcomes.append((False, exc))
                        for key, rows in pending.items():  # and so are the rows it queued
                            del rows[sizes.get(key, 0) :]
                _local.rows = None
                _flush_rows(pending)
        except BaseException as exc:  # the batch could not commit: nothing of it is stored
            logger.warning("a batch of %d jobs could not commit: %r", len(batch), exc)
            outcomes = [(False, exc)] * len(batch)
        finally:
            _local.rows = None
        for (future, *_), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
