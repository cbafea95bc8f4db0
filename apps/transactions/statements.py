"""Every hand-written statement of the transactions app, built once by the statement kit.

The reads and writes each meter reading and each 2.x TransactionEvent runs, where the ORM
cost more than the database work (see apps/core/sqlkit.py). Names are quoted with `quoted`;
values are always parameters. Services call these functions and build no SQL themselves.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from apps.chargers.models import Connector
from apps.core.batch import update_at_commit
from apps.core.sqlkit import Lookup, fast_update, fetch_one_with, quoted
from apps.transactions.models import Transaction, TransactionEvent


def _tx(field: str) -> str:
    """A column of the session table, qualified by its table."""
    return f"{quoted(Transaction)}.{quoted(Transaction, field)}"


def _by_station_and_id() -> str:
    return f"{_tx('station')} = %s AND {_tx('transaction_id')} = %s"


def _transaction_key_sql() -> str:
    return f"SELECT {_tx('id')} FROM {quoted(Transaction)} WHERE {_by_station_and_id()} LIMIT 1"


def transaction_key_lookup(*, station_id: int, transaction_id: str) -> Lookup:
    """The key of the station's session `transaction_id` (NULL if none), found on insert.

    A row value for batch.insert_rows: the batch's INSERT finds it with a subquery, so
    the message that queued the row runs no statement of its own.
    """
    return Lookup(_transaction_key_sql, (station_id, transaction_id))


# What the session's events say of a TransactionEvent being applied (transaction_for_event).
EVENT_NEW = "new"  # its sequence number is not stored yet
EVENT_REUSED = "reused"  # a different event has its sequence number (a station's bug)
EVENT_STORED = "stored"  # this very event is stored already: a replay

_EVENT_STATE = {None: EVENT_NEW, 1: EVENT_REUSED, 2: EVENT_STORED}


def _session_extras() -> tuple[str, str]:
    """Read with the session row: what its events say of an event (2: this very event is
    stored, 1: another event has its sequence number, None: neither), and the number of
    the session's connector (or None)."""
    event, connector = quoted(TransactionEvent), quoted(Connector)

    def column(name: str) -> str:
        return f"{event}.{quoted(TransactionEvent, name)}"

    # One index range (transaction, seq_no): usually no row, one for a replay.
    same = (
        f"{column('event_type')} = %s AND {column('trigger_reason')} = %s"
        f" AND {column('timestamp')} = %s"
    )
    return (
        f"SELECT CASE WHEN {same} THEN 2 ELSE 1 END FROM {event}"
        f" WHERE {column('transaction')} = {_tx('id')} AND {column('seq_no')} = %s"
        " ORDER BY 1 DESC LIMIT 1",
        f"SELECT {connector}.{quoted(Connector, 'connector_id')} FROM {connector}"
        f" WHERE {connector}.{quoted(Connector, 'id')} = {_tx('connector')}",
    )


def transaction_for_event(
    *,
    station_id: int,
    transaction_id: str,
    seq_no: int,
    event_type: str,
    trigger_reason: str,
    timestamp: datetime,
) -> tuple[Transaction | None, str, int | None]:
    """Read and lock a session for its event: (session or None, event state, connector number).

    One statement: the session row (SELECT ... FOR UPDATE where the database has it), and
    in the same statement what its stored events say of this one (EVENT_NEW, EVENT_REUSED,
    EVENT_STORED: an event is its sequence number, type, trigger and time) and the number
    of the session's connector. No session: (None, EVENT_NEW, None).
    """
    at = connection.ops.adapt_datetimefield_value(timestamp)
    tx, extras = fetch_one_with(
        Transaction,
        _by_station_and_id,
        [station_id, transaction_id],
        lock=True,
        extra=_session_extras,
        extra_params=(event_type, trigger_reason, at, seq_no),
    )
    if tx is None:
        return None, EVENT_NEW, None
    state, connector_number = extras
    return tx, _EVENT_STATE[state], connector_number


def transaction_write_fields(*, tx: Transaction, fields: list[str], at_commit: bool) -> None:
    """Write `fields` of a stored session: now, or (`at_commit`) with the batch's inserts.

    `at_commit` only for a row this job holds locked and nothing else reads before the
    commit (see batch.update_at_commit).
    """
    if at_commit:
        update_at_commit(tx, fields)
    else:
        fast_update(tx, fields)
