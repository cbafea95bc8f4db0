"""Every hand-written statement of the commands app, built once by the statement kit.

Names are quoted with `quoted`; values are always parameters (see apps/core/sqlkit.py).
Services call these functions and build no SQL themselves.
"""

from __future__ import annotations

from apps.commands.models import ChargerCommand
from apps.core.sqlkit import quoted, run_statement, statement


def _pending_sql(size: int) -> str:
    def column(name: str) -> str:
        return quoted(ChargerCommand, name)

    return (
        f"SELECT {column('created_at')}, {column('id')}, {column('station')}"
        f" FROM {quoted(ChargerCommand)}"
        f" WHERE {column('status')} = %s"
        f" AND {column('station')} IN ({', '.join(['%s'] * size)})"
    )


def command_rows_of_stations(*, status: str, station_ids: list[int], size: int) -> list[tuple]:
    """Return (created_at, id, station id) of the commands in `status` of up to `size` stations.

    Built once per `size`: fewer stations are padded with the last one, so that every
    chunk of a poll runs the same statement.
    """
    sql = statement(("pending-commands", size), lambda: _pending_sql(size))
    padded = list(station_ids) + station_ids[-1:] * (size - len(station_ids))
    return run_statement(sql, [status, *padded], rows=True, read=True)
