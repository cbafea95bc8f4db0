"""The statement kit: hand-written SQL, built once and run straight on the driver.

The per-message path runs a handful of fixed statements. Built by the ORM each time they
cost several times the database work, and so did Django's cursor wrapper around each
execution (settings lookups, a new driver cursor per statement). Here they are built once
per (database vendor, model, shape), with the driver's own placeholders, and run on one
driver cursor per thread and connection, inside Django's error wrapping (so a failure still
reads as a django.db error and marks the connection for the health check). On PostgreSQL
that cursor binds server-side, so psycopg prepares what runs often (DB_PREPARE_THRESHOLD).

Who may use it: only each app's `statements` module (where every hand-written statement of
the app lives, its table and column names quoted by `quoted`) and the group-commit executor
(apps/core/batch.py) — an import-linter contract in pyproject.toml says so.

The seam with the executor, which sits above this module: the executor `bind`s the batch's
connection wrapper and a `before_write` hook (it makes the job's savepoint) to its thread
for the length of a batch; it runs its savepoint statements with `run_control`, and its
queued rows and updates with `fast_insert` and `run_many`. This module knows nothing of
batches, jobs or savepoints.

Where SQL text is asked for (`where`, `extra`, `Lookup.sql`, select_value) a callable that
returns it may be given instead: it is called only when the statement is first built, so a
statement module can quote its names with `quoted` (which needs the database) at no cost
per message. `counting()` records what the kit sends, for tests that count statements.

About 500 lines, one module on purpose: its builders share one statement cache and one
driver cursor per thread, and the fence (only statements modules import it) is one name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.utils import timezone

Row = Model | dict[str, Any]
# SQL text with %s placeholders, or a callable returning it (called once per statement).
Text = str | Callable[[], str]

_local = threading.local()
_statements: dict[tuple, Any] = {}
_UNSET = object()


def bind(db: BaseDatabaseWrapper | None, before_write: Callable[[], None] | None = None) -> None:
    """Give this thread's statements `db` and call `before_write` before each write.

    The executor binds a batch's connection wrapper (looked up once per batch: every
    `django.db.connection.x` is a lookup through a context-local proxy, and on the
    per-message path those lookups had come to cost more than the statements) and its
    savepoint maker; `bind(None)` when the batch is over.
    """
    _local.db = db
    _local.before_write = before_write


def connection_wrapper() -> BaseDatabaseWrapper:
    """This thread's connection wrapper: the bound one (a batch's), or Django's."""
    db = getattr(_local, "db", None)
    return db if db is not None else connections[DEFAULT_DB_ALIAS]


_db = connection_wrapper


def _text(sql: Text) -> str:
    return sql() if callable(sql) else sql


def _driver_sql(sql: str) -> str:
    """`sql`, written with %s placeholders, in the driver's placeholder style."""
    return sql.replace("%s", "?") if _db().vendor == "sqlite" else sql


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
        seen = getattr(_local, "seen", None)
        if seen is not None:  # counting (see counting()): only new cursors, none per statement
            cursor = _CountingCursor(cursor, seen)
        held = _local.cursor = (raw, cursor)
    return held[1]


@contextmanager
def counting() -> Iterator[list[tuple[str, int]]]:
    """Record what this thread's kit statements send to the driver: (SQL, rows) each.

    For tests and measurements: these statements bypass Django's cursor wrapper, so its
    query capture (django_assert_num_queries) does not see them. An entry is one call of
    the driver: execute (rows 1), executemany (one statement, rows: its parameter sets) or
    COPY (rows: rows written). Costs nothing when not counting: the thread's cursor is made
    anew, counting, on entry and again on exit.
    """
    seen: list[tuple[str, int]] = []
    _local.cursor = None
    _local.seen = seen
    try:
        yield seen
    finally:
        _local.seen = None
        _local.cursor = None


class _CountingCursor:
    """A driver cursor that records its statements in `seen` (see counting())."""

    def __init__(self, cursor: Any, seen: list[tuple[str, int]]) -> None:
        self._cursor = cursor
        self._seen = seen

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._seen.append((sql, 1))
        return self._cursor.execute(sql, *args, **kwargs)

    def executemany(self, sql: str, params: list) -> Any:
        params = list(params)
        self._seen.append((sql, len(params)))
        return self._cursor.executemany(sql, params)

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._cursor, name)  # no `copy` on SQLite's cursor: AttributeError
        if name != "copy":
            return found

        @contextmanager
        def copy(sql: str) -> Iterator[Any]:
            with found(sql) as writer:
                rows = _CountingCopy(writer)
                yield rows
            self._seen.append((sql, rows.count))

        return copy


class _CountingCopy:
    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.count = 0

    def write_row(self, values: list) -> None:
        self.count += 1
        self._writer.write_row(values)


def run_statement(
    sql: str, params: list | tuple | None, *, rows: bool = False, read: bool = False
) -> list[tuple]:
    """Run one statement (driver placeholders, see statement()); return its rows if `rows`.

    `read`: a SELECT, for which the bound `before_write` is not called (in a batch: no
    savepoint for its job, there is nothing of it to undo). Only for the fixed, indexed
    reads of the per-message path: on PostgreSQL a read that fails (which they do not,
    short of losing the connection) fails the whole batch: nothing of it is stored and its
    frames are answered with InternalError.
    """
    db = _db()
    if not read:
        before_write = getattr(_local, "before_write", None)
        if before_write is not None:
            before_write()
    cursor = _driver_cursor()
    with db.wrap_database_errors:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else []


def run_many(sql: str, params: list) -> None:
    """Run one statement (driver placeholders) for each parameter list: executemany."""
    cursor = _driver_cursor()
    with _db().wrap_database_errors:
        cursor.executemany(sql, params)


def run_control(sql: str) -> None:
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

    `build` returns it with %s placeholders (names quoted with `quoted`); the result is in
    the driver's style, for run_statement.
    """
    full_key = (_db().vendor, "statement", *key)
    sql = _statements.get(full_key)
    if sql is None:
        sql = _statements[full_key] = _driver_sql(build())
    return sql


def quoted(model: type[Model], field: str | None = None) -> str:
    """`model`'s table name, or the column name of its `field`, quoted for this database:
    the one way statement modules write names."""
    meta = model._meta
    name = meta.db_table if field is None else meta.get_field(field).column
    return _db().ops.quote_name(name)


def select_value(sql: Text, params: list | tuple) -> Any:
    """The first column of the first row of a SELECT written with %s placeholders, or None."""
    rows = run_statement(
        statement(("value", sql), lambda: _text(sql)), params, rows=True, read=True
    )
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class Lookup:
    """A column value of a dict row that the database finds as the row is inserted.

    `sql` is a SELECT of one value (%s placeholders for `params`; or a callable returning
    it); no row found: NULL. Inserted with others by fast_insert it becomes a subquery of
    their INSERT, so the code that queued the row runs no statement for it (a meter
    reading's transaction, looked up per reading, cost a round trip per message on
    PostgreSQL).
    """

    sql: Text
    params: tuple


def resolved(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with each Lookup value replaced by what it finds now (a statement each)."""
    return {
        name: select_value(value.sql, value.params) if isinstance(value, Lookup) else value
        for name, value in row.items()
    }


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
    """The INSERT of `model`'s rows; `lookups`: (column position, subquery) pairs (see Lookup)."""
    db = _db()
    fields = _inserted_fields(model)
    values = ["%s"] * len(fields)
    for position, subquery in lookups:
        values[position] = f"({_text(subquery)})"
    ops = db.ops
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    sql = (
        f"{ops.insert_statement(on_conflict=on_conflict)} "
        f"{ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({', '.join(values)})"
    ) + (f" {suffix}" if suffix else "")
    return _driver_sql(sql)


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

    A row is an instance or a dict of field attnames (what is left out takes the field's
    default; auto_now(_add) fields are stamped). bulk_create compiles every value of every
    row through the ORM; on the per-message path that cost more than the database work.
    Here each column's conversion is decided once: datetimes go through the backend's
    adapter, everything else as it is. No signals are sent (bulk_create sends none either)
    and primary keys are not read back.
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
    """The INSERT with the looked-up columns as subqueries (see Lookup)."""
    key = (_db().vendor, "insert-lookup", model, ignore_conflicts, shape)
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = _insert_sql(model, ignore_conflicts, shape)
    return sql


Extra = tuple[str, ...] | Callable[[], tuple[str, ...]]


def _select_plan(
    model: type[Model], where: Text, lock: bool, extra: Extra
) -> tuple[str, list, list]:
    db = _db()
    key = (db.vendor, "select", model, where, lock, extra)
    plan = _statements.get(key)
    if plan is None:
        ops = db.ops
        table = ops.quote_name(model._meta.db_table)
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(f"{table}.{ops.quote_name(field.column)}" for field in fields)
        expressions = extra() if callable(extra) else extra
        columns += "".join(f", ({expression})" for expression in expressions)
        sql = f"SELECT {columns} FROM {table} WHERE {_text(where)} LIMIT 1"
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


def fetch_one(model: type[Model], where: Text, params: list, *, lock: bool = False) -> Any:
    """Return the first instance matching `where` (SQL over its columns), or None.

    What `model.objects.filter(...).first()` returns (all fields, converted as the ORM
    converts them), from a statement built once: `where` is code, never input; the values
    go in `params`. `lock`: SELECT ... FOR UPDATE where the database has it (SQLite's
    writers take turns anyway).
    """
    return fetch_one_with(model, where, params, lock=lock)[0]


def fetch_one_with(
    model: type[Model],
    where: Text,
    params: list,
    *,
    lock: bool = False,
    extra: Extra = (),
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


def row_exists(model: type[Model], where: Text, params: list) -> bool:
    """Tell whether a row of `model` matches `where` (SQL), with a statement built once."""
    db = _db()
    key = (db.vendor, "exists", model, where)
    sql = _statements.get(key)
    if sql is None:
        table = db.ops.quote_name(model._meta.db_table)
        sql = _driver_sql(f"SELECT 1 FROM {table} WHERE {_text(where)} LIMIT 1")
        _statements[key] = sql
    return bool(run_statement(sql, params, rows=True, read=True))


def update_statement(instance: Model, fields: list[str]) -> tuple[str, list]:
    """The UPDATE of `fields` of a stored instance (built once) and its parameters now.

    auto_now fields among them are stamped, as `save(update_fields=fields)` would.
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
    return sql, params


def fast_update(instance: Model, fields: list[str]) -> None:
    """Write `fields` of a stored instance: `instance.save(update_fields=fields)`, built once.

    No signals are sent (nothing listens to the models this serves: check before using it
    for another). To write with a batch's inserts instead, see batch.update_at_commit.
    """
    sql, params = update_statement(instance, fields)
    run_statement(sql, params)
