"""Every hand-written statement of the chargers app, built once by the statement kit.

The per-message and per-reconnect writes of a station, where the ORM cost more than the
database work (see apps/core/sqlkit.py). Names are quoted with `quoted`; values are always
parameters. Services call these functions and build no SQL themselves.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from apps.chargers.models import ChargingStation
from apps.core.sqlkit import fast_update, quoted, run_statement, statement


def _column(name: str) -> str:
    return quoted(ChargingStation, name)


def station_write_fields(*, station: ChargingStation, fields: list[str]) -> None:
    """Write `fields` of a stored station: `save(update_fields=fields)`, built once."""
    fast_update(station, fields)


def _disconnect_sql() -> str:
    return (
        f"UPDATE {quoted(ChargingStation)}"
        f" SET {_column('is_connected')} = %s, {_column('disconnected_at')} = %s,"
        f" {_column('last_seen_at')} = %s"
        f" WHERE {_column('id')} = %s AND {_column('connection_id')} = %s"
    )


def station_mark_disconnected(*, station_id: int, connection_id: str, at: datetime) -> None:
    """Mark the station disconnected at `at`, unless another connection holds it by now."""
    value = connection.ops.adapt_datetimefield_value(at)
    sql = statement(("station-disconnect",), _disconnect_sql)
    run_statement(sql, [False, value, value, station_id, connection_id])


def _boot_sql(part: str, fields: list[str], answer_fields: list[str]) -> str:
    """The boot's UPDATE (RETURNING what the answer needs, where the database can) or, where
    it cannot, the `read` that follows it."""
    table, where = quoted(ChargingStation), f"{_column('id')} = %s"
    answer = ", ".join(_column(name) for name in answer_fields)
    if part == "read":
        return f"SELECT {answer} FROM {table} WHERE {where}"
    assignments = ", ".join(f"{_column(name)} = %s" for name in fields)
    update = f"UPDATE {table} SET {assignments} WHERE {where}"
    return f"{update} RETURNING {answer}" if _boot_returns() else update


def _boot_returns() -> bool:
    # The feature flag of INSERT ... RETURNING: the same databases return from UPDATE.
    return connection.features.can_return_columns_from_insert


def station_write_boot(
    *, station_id: int, values: dict[str, object], answer_fields: list[str]
) -> tuple | None:
    """Write `values` (field name: value) to the station; return its `answer_fields`.

    One UPDATE ... RETURNING where the database can (no row lock, no read-modify-write of
    the whole row), else the UPDATE and a read. None: no such station. Built once per
    fields and answer fields.
    """
    fields = list(values)
    shape = (tuple(fields), tuple(answer_fields))
    params = [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for value in values.values()
    ]
    params.append(station_id)
    returns = _boot_returns()
    update = statement(
        ("station-boot", returns, *shape), lambda: _boot_sql("update", fields, answer_fields)
    )
    if returns:
        rows = run_statement(update, params, rows=True)
    else:
        run_statement(update, params)
        read = statement(
            ("station-boot-read", *shape), lambda: _boot_sql("read", fields, answer_fields)
        )
        rows = run_statement(read, [station_id], rows=True, read=True)
    return rows[0] if rows else None
