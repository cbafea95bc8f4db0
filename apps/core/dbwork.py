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

Rows given to `insert_rows(model, rows)` — meter readings, the message log — are collected
across the batch and inserted with one statement per model, inside the transaction, just
before the commit; the rows of a job that fails are dropped with it.
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
from dataclasses import dataclass
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.utils import timezone

logger = logging.getLogger(__name__)

_local = threading.local()


Row = Model | dict[str, Any]


def insert_rows(model: type[Model], rows: list[Row], *, ignore_conflicts: bool = False) -> None:
    """Insert `rows`: at the end of the current batch, or now outside one.

    A row is an instance or, cheaper on the per-message path, a dict of field attnames
    (what is left out takes the field's default; auto_now(_add) fields are stamped).
    `ignore_conflicts`: rows that break a unique constraint (replays) are skipped.
    """
    pending = getattr(_local, "rows", None)
    if pending is None:
        instances = [row if isinstance(row, Model) else model(**_resolved(row)) for row in rows]
        model.objects.bulk_create(instances, ignore_conflicts=ignore_conflicts)
        return
    pending.setdefault((model, ignore_conflicts), []).extend(rows)


@dataclass(frozen=True)
class Lookup:
    """A column value of a dict row that the database finds as the row is inserted.

    `sql` is a SELECT of one value (%s placeholders for `params`); no row found: NULL.
    Inside a batch it becomes a subquery of the batch's INSERT, so the job that queued the
    row runs no statement for it (a meter reading's transaction, looked up per reading,
    cost a round trip per message on PostgreSQL).
    """

    sql: str
    params: tuple


def _resolved(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: select_value(value.sql, value.params) if isinstance(value, Lookup) else value
        for name, value in row.items()
    }


def _flush_rows(pending: dict[tuple[Any, Any], list]) -> None:
    for (model, detail), rows in pending.items():
        if not rows:
            continue
        if model is _Update:  # queued by fast_update(with_batch=True); detail is its SQL
            cursor = _driver_cursor()
            with _db().wrap_database_errors:
                cursor.executemany(detail, rows)
        else:
            fast_insert(model, rows, ignore_conflicts=detail)


# --- statements built once ---------------------------------------------------------------
#
# The per-message path runs a handful of fixed statements. Built by the ORM each time they
# cost several times the database work, and so did Django's cursor wrapper around each
# execution (settings lookups, a new driver cursor per statement). Here they are built once
# per (database vendor, model, shape), with the driver's own placeholders, and run on one
# driver cursor per thread and connection, inside Django's error wrapping (so a failure
# still reads as a django.db error and marks the connection for the health check).

_statements: dict[tuple, Any] = {}
_UNSET = object()


def _db() -> BaseDatabaseWrapper:
    """This thread's connection wrapper: the batch's (looked up once per batch), or Django's.

    Every `django.db.connection.x` is a lookup through a context-local proxy; on the
    per-message path those lookups had come to cost more than the statements.
    """
    db = getattr(_local, "db", None)
    return db if db is not None else connections[DEFAULT_DB_ALIAS]


def _driver_sql(sql: str) -> str:
    """`sql`, written with %s placeholders, in the driver's placeholder style."""
    db = _db()
    return sql.replace("%s", "?") if db.vendor == "sqlite" else sql


def _driver_cursor() -> Any:
    """This thread's reusable driver cursor on its current database connection.

    On PostgreSQL (psycopg 3) a server-side-binding cursor: psycopg prepares a statement
    once it has run DB_PREPARE_THRESHOLD times (settings; Django's default is never), so
    PostgreSQL stops parsing and planning it per message.
    """
    db = _db()
    if db.connection is None:
        db.ensure_connection()
    raw = db.connection
    held = getattr(_local, "cursor", None)
    if held is None or held[0] is not raw:
        if db.vendor == "postgresql" and hasattr(raw, "pgconn"):
            import psycopg

            cursor = psycopg.Cursor(raw)
        else:
            cursor = raw.cursor()
        held = _local.cursor = (raw, cursor)
    return held[1]


def run_statement(
    sql: str, params: list | tuple | None, *, rows: bool = False, read: bool = False
) -> list[tuple]:
    """Run one statement (driver placeholders, see _driver_sql); return its rows if `rows`.

    `read`: a SELECT, which makes no savepoint for its job (see _run_job): there is nothing
    of it to undo. Only for the fixed, indexed reads of the per-message path: on PostgreSQL
    a read that fails (which they do not, short of losing the connection) fails the whole
    batch: nothing of it is stored and its frames are answered with InternalError.
    """
    db = _db()
    if not read:
        _make_savepoint()
    cursor = _driver_cursor()
    with db.wrap_database_errors:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else []


def _run_control(sql: str) -> None:
    """Run a transaction-control statement (SAVEPOINT ...): no parameters, never prepared."""
    db = _db()
    cursor = _driver_cursor()
    with db.wrap_database_errors:
        if db.vendor == "postgresql" and hasattr(db.connection, "pgconn"):
            cursor.execute(sql, prepare=False)
        else:
            cursor.execute(sql)


def statement(key: tuple, build: Callable[[], str]) -> str:
    """A statement of the caller's, built once per database vendor and `key`.

    `build` returns it with %s placeholders (it may use `django.db.connection.ops`); the
    result is in the driver's style, for run_statement.
    """
    full_key = (_db().vendor, "statement", *key)
    sql = _statements.get(full_key)
    if sql is None:
        sql = _statements[full_key] = _driver_sql(build())
    return sql


def quoted(model: type[Model], field: str | None = None) -> str:
    """`model`'s table name, or the column name of its `field`, quoted for this database:
    for the statements callers build for statement()."""
    meta = model._meta
    name = meta.db_table if field is None else meta.get_field(field).column
    return _db().ops.quote_name(name)


def select_value(sql: str, params: list | tuple) -> Any:
    """The first column of the first row of a SELECT written with %s placeholders, or None."""
    rows = run_statement(statement(("value", sql), lambda: sql), params, rows=True, read=True)
    return rows[0][0] if rows else None


def _adapter(field: Any) -> Callable[[Any], Any] | None:
    """How a column's Python value becomes a database parameter (None: as it is)."""
    db = _db()
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return db.ops.adapt_datetimefield_value
    if kind in ("JSONField", "DecimalField", "DateField", "TimeField", "UUIDField"):
        return lambda value: field.get_db_prep_save(value, db)
    return None


def _inserted_fields(model: type[Model]) -> list:
    """The columns a batch insert writes, in order: all but the primary key."""
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert_sql(model: type[Model], ignore_conflicts: bool, lookups: tuple = ()) -> str:
    """The batch INSERT of `model`; `lookups`: (column position, subquery) pairs (see Lookup)."""
    db = _db()
    fields = _inserted_fields(model)
    values = ["%s"] * len(fields)
    for position, subquery in lookups:
        values[position] = f"({subquery})"
    ops = db.ops
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    statement = (
        f"{ops.insert_statement(on_conflict=on_conflict)} "
        f"{ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({', '.join(values)})"
    ) + (f" {suffix}" if suffix else "")
    return _driver_sql(statement)


def _insert_plan(model: type[Model], ignore_conflicts: bool) -> tuple:
    key = (_db().vendor, "insert", model, ignore_conflicts)
    plan = _statements.get(key)
    if plan is None:
        fields = _inserted_fields(model)
        stamped = [
            field
            for field in fields
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        ]
        adapt = [_adapter(field) for field in fields]
        plan = _statements[key] = (_insert_sql(model, ignore_conflicts), fields, adapt, stamped)
    return plan


def fast_insert(model: type[Model], rows: list[Row], *, ignore_conflicts: bool) -> None:
    """Insert rows with one prepared statement (executemany), as bulk_create would.

    bulk_create compiles every value of every row through the ORM; on the per-message path
    that cost more than the database work. Here each column's conversion is decided once:
    datetimes go through the backend's adapter, everything else as it is. No signals are
    sent (bulk_create sends none either) and primary keys are not read back.
    """
    db = _db()
    sql, fields, adapt, stamped = _insert_plan(model, ignore_conflicts)
    now = None
    params = []
    # Rows with Lookup values, by which columns are looked up and how: statements of their own.
    looked_up: dict[tuple, list[list]] = {}
    for row in rows:
        if isinstance(row, Model):
            for field in stamped:
                field.pre_save(row, add=True)
            get = row.__dict__.get
        else:
            get = row.get
        values = []
        shape: tuple = ()
        for position, (field, adapter) in enumerate(zip(fields, adapt, strict=True)):
            value = get(field.attname, _UNSET)
            if value.__class__ is Lookup:
                shape += ((position, value.sql),)
                values.extend(value.params)
                continue
            if value is _UNSET and field in stamped:
                now = now or timezone.now()
                value = now
            elif value is _UNSET or (value is None and field.has_default()):
                value = field.get_default()
            elif isinstance(value, str) and "\x00" in value:
                # PostgreSQL text cannot hold NUL: one charger's garbage must not make the
                # whole batch (everybody's messages) fail to commit.
                value = value.replace("\x00", "\ufffd")
            values.append(adapter(value) if adapter is not None and value is not None else value)
        if shape:
            looked_up.setdefault(shape, []).append(values)
        else:
            params.append(values)
    cursor = _driver_cursor()
    with db.wrap_database_errors:
        if params and not ignore_conflicts and hasattr(cursor, "copy"):
            # PostgreSQL: COPY costs less CPU per row than a prepared INSERT, on both sides.
            with cursor.copy(_copy_sql(model)) as copy:
                for values in params:
                    copy.write_row(values)
        elif params:
            cursor.executemany(sql, params)
        for shape, shaped in looked_up.items():
            cursor.executemany(_lookup_insert_sql(model, ignore_conflicts, shape), shaped)


def _copy_sql(model: type[Model]) -> str:
    """COPY ... FROM STDIN of `model`'s columns, in _insert_plan's order (PostgreSQL)."""
    key = ("postgresql", "copy", model)
    sql = _statements.get(key)
    if sql is None:
        quote = _db().ops.quote_name
        fields = _inserted_fields(model)
        columns = ", ".join(quote(field.column) for field in fields)
        sql = _statements[key] = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    return sql


def _lookup_insert_sql(model: type[Model], ignore_conflicts: bool, shape: tuple) -> str:
    """The batch INSERT with the looked-up columns as subqueries (see Lookup)."""
    key = (_db().vendor, "insert-lookup", model, ignore_conflicts, shape)
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = _insert_sql(model, ignore_conflicts, shape)
    return sql


def _select_plan(
    model: type[Model], where: str, lock: bool, extra: tuple[str, ...]
) -> tuple[str, list, list]:
    db = _db()
    key = (db.vendor, "select", model, where, lock, extra)
    plan = _statements.get(key)
    if plan is None:
        ops = db.ops
        table = ops.quote_name(model._meta.db_table)
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(f"{table}.{ops.quote_name(field.column)}" for field in fields)
        columns += "".join(f", ({expression})" for expression in extra)
        sql = f"SELECT {columns} FROM {table} WHERE {where} LIMIT 1"
        if lock and db.features.has_select_for_update:
            sql += " FOR UPDATE"
        converters = []
        for field in fields:
            column = field.get_col(model._meta.db_table)
            found = ops.get_db_converters(column) + column.get_db_converters(db)
            converters.append((column, found))
        plan = _statements[key] = (
            _driver_sql(sql),
            [field.attname for field in fields],
            converters,
        )
    return plan


def fetch_one(model: type[Model], where: str, params: list, *, lock: bool = False) -> Any:
    """Return the first instance matching `where` (SQL over its columns), or None.

    What `model.objects.filter(...).first()` returns (all fields, converted as the ORM
    converts them), from a statement built once: `where` is code, never input; the values
    go in `params`. `lock`: SELECT ... FOR UPDATE where the database has it (SQLite's
    writers take turns anyway).
    """
    return fetch_one_with(model, where, params, lock=lock)[0]


def fetch_one_with(
    model: type[Model],
    where: str,
    params: list,
    *,
    lock: bool = False,
    extra: tuple[str, ...] = (),
    extra_params: tuple = (),
) -> tuple[Any, tuple]:
    """fetch_one, and in the same statement the values of `extra` scalar subqueries.

    Each extra is a SELECT returning one value (or none: None), written with the model's
    table name for its columns; its parameters, in order, are `extra_params`. Returns
    (instance or None, the extra values).
    """
    db = _db()
    sql, names, converters = _select_plan(model, where, lock, extra)
    rows = run_statement(sql, [*extra_params, *params], rows=True, read=True)
    if not rows:
        return None, ()
    row = rows[0]
    values = []
    for value, (column, found) in zip(row, converters, strict=False):
        for converter in found:
            value = converter(value, column, db)
        values.append(value)
    return model.from_db(db.alias, names, values), tuple(row[len(names) :])


def row_exists(model: type[Model], where: str, params: list) -> bool:
    """Tell whether a row of `model` matches `where` (SQL), with a statement built once."""
    db = _db()
    key = (db.vendor, "exists", model, where)
    sql = _statements.get(key)
    if sql is None:
        table = db.ops.quote_name(model._meta.db_table)
        sql = _statements[key] = _driver_sql(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1")
    return bool(run_statement(sql, params, rows=True, read=True))


def fast_update(instance: Model, fields: list[str], *, with_batch: bool = False) -> None:
    """Write `fields` of a stored instance: `instance.save(update_fields=fields)`, built once.

    auto_now fields among them are stamped; no signals are sent (nothing listens to the
    models this serves: check before using it for another). `with_batch`: inside a batch,
    the UPDATE runs with the batch's inserts, just before the commit, one statement for all
    its jobs' updates of the same fields. Only for a row nothing else reads before the
    commit: one the job holds locked, whose next change comes in a later batch.
    """
    db = _db()
    model = type(instance)
    key = (db.vendor, "update", model, tuple(fields))
    plan = _statements.get(key)
    if plan is None:
        ops = db.ops
        targets = [model._meta.get_field(name) for name in fields]
        assignments = ", ".join(f"{ops.quote_name(field.column)} = %s" for field in targets)
        pk = model._meta.pk
        sql = (
            f"UPDATE {ops.quote_name(model._meta.db_table)} SET {assignments}"
            f" WHERE {ops.quote_name(pk.column)} = %s"
        )
        plan = _statements[key] = (_driver_sql(sql), targets)
    sql, targets = plan
    params = [field.get_db_prep_save(field.pre_save(instance, False), db) for field in targets]
    params.append(instance.pk)
    pending = getattr(_local, "rows", None) if with_batch else None
    if pending is None:
        run_statement(sql, params)
    else:
        pending.setdefault((_Update, sql), []).append(params)


class _Update:
    """Key of queued UPDATE parameters among a batch's pending rows (see fast_update)."""


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
        _local.db = db = connections[DEFAULT_DB_ALIAS]
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
            _local.db = None
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


def _run_job(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run one job of a batch in its own savepoint, as `transaction.atomic()` would.

    Its failure undoes its writes and forgets its on-commit hooks, nothing else of the
    batch. The savepoint is made just before the job's first statement (many jobs, such as
    a meter reading, only queue rows and run none) and its statements go straight to the
    driver. On PostgreSQL, where each statement is a round trip, a job's savepoint is left
    for the next one to release with its own ("RELEASE ...; SAVEPOINT ...": one statement)
    or for the commit.
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
        # rest of the transaction), and the job carried on: as atomic() does, its writes
        # are undone and it still returns.
        _undo_job(hooks, keep_open)
    elif not _local.savepoint_wanted and not keep_open:
        _run_control("RELEASE SAVEPOINT dbwork_job")
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
        _run_control("RELEASE SAVEPOINT dbwork_job; SAVEPOINT dbwork_job")
    else:
        _run_control("SAVEPOINT dbwork_job")
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
    _run_control("ROLLBACK TO SAVEPOINT dbwork_job")
    if not keep_open:
        _run_control("RELEASE SAVEPOINT dbwork_job")
        _local.savepoint_open = False


def _tell_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let async_to_sync in this thread run on the job's loop (as SyncToAsync's threads do)."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop", None) is not loop:
        local.main_event_loop = loop
        local.main_event_loop_pid = os.getpid()
