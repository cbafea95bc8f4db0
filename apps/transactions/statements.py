"""Every hand-written statement of the transactions app, built once by the statement kit.

The reads and writes each meter reading and each 2.x TransactionEvent runs, where the ORM
cost more than the database work (see apps/core/sqlkit.py). Names are quoted with `quoted`;
values are always parameters. Services call these functions and build no SQL themselves.
"""

from __future__ import annotations

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


def _session_extras() -> tuple[str, str]:
    """Read with the session row: whether an event's sequence number is stored already
    (1 or None), and the number of the session's connector (or None)."""
    event, connector = quoted(TransactionEvent), quoted(Connector)
    return (
        f"SELECT 1 FROM {event}"
        f" WHERE {event}.{quoted(TransactionEvent, 'transaction')} = {_tx('id')}"
        f" AND {event}.{quoted(TransactionEvent, 'seq_no')} = %s",
        f"SELECT {connector}.{quoted(Connector, 'connector_id')} FROM {connector}"
        f" WHERE {connector}.{quoted(Connector, 'id')} = {_tx('connector')}",
    )


def transaction_for_event(
    *, station_id: int, transaction_id: str, seq_no: int
) -> tuple[Transaction | None, bool, int | None]:
    """Read and lock a session for its event: (session or None, seq_no seen, connector number).

    One statement: the session row (SELECT ... FOR UPDATE where the database has it), and
    in the same statement whether this sequence number is stored already and the number of
    the session's connector. No session: (None, False, None).
    """
    tx, extras = fetch_one_with(
        Transaction,
        _by_station_and_id,
        [station_id, transaction_id],
        lock=True,
        extra=_session_extras,
        extra_params=(seq_no,),
    )
    if tx is None:
        return None, False, None
    seen, connector_number = extras
    return tx, seen is not None, connector_number


def transaction_write_fields(*, tx: Transaction, fields: list[str], at_commit: bool) -> None:
    """Write `fields` of a stored session: now, or (`at_commit`) with the batch's inserts.

    `at_commit` only for a row this job holds locked and nothing else reads before the
    commit (see batch.update_at_commit).
    """
    if at_commit:
        update_at_commit(tx, fields)
    else:
        fast_update(tx, fields)
