"""Count the statements charger frames cost, run as the group-commit job runs them.

A batch of frames from connected chargers (ChargerConnection.receive: decode, schema,
handler, message log) goes through GroupCommitExecutor._run_batch in the test's thread,
as the server's database threads run it (scripts/frame_cost.py does the same). Two counts,
both exact:

- `orm`: statements through Django's cursor wrapper (CaptureQueriesContext, what
  django_assert_num_queries counts): the ORM's, and the batch's BEGIN and COMMIT, which
  Django logs with them (on PostgreSQL psycopg sends that BEGIN with the first statement).
- `kit`: statements the statement kit sends straight to the driver, which Django's capture
  does not see (sqlkit.counting()): (SQL, rows) per execute, executemany or COPY —
  savepoints, the fixed reads and writes, the rows and updates flushed before the commit.
  An executemany is one statement run for each of its rows (psycopg pipelines them: one
  round trip), a COPY one statement for all its rows.

Not counted: opening a connection (the connection is open before the batch).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass

import orjson
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.core import sqlkit
from apps.core.batch import GroupCommitExecutor
from apps.ocpp.connection import ChargerConnection
from apps.protocol.versions import OcppVersion


@dataclass
class Counted:
    orm: list[str]
    kit: list[tuple[str, int]]
    replies: list[list]

    def kinds(self) -> tuple[list[str], list[tuple[str, int]]]:
        """The statements by kind (their first words and table), for readable assertions."""
        return [kind(sql) for sql in self.orm], [(kind(sql), rows) for sql, rows in self.kit]


def kind(sql: str) -> str:
    """'UPDATE chargers_chargingstation', 'SAVEPOINT', 'COPY ocpp_messagelog', ...: a
    statement's verb and table (a SELECT's own table, not its subqueries')."""
    while "(" in sql:  # drop subqueries and column lists, innermost first
        sql = re.sub(r"\([^()]*\)", "", sql)
    words = sql.replace('"', "").split()
    verb = words[0].upper()
    if verb == "INSERT":
        return f"INSERT {words[words.index('INTO') + 1]}"
    if verb in ("COPY", "UPDATE"):
        return f"{verb} {words[1]}"
    if verb == "SELECT" and "FROM" in words:
        return f"SELECT {words[words.index('FROM') + 1]}"
    return " ".join(words[:2]) if verb in ("RELEASE", "ROLLBACK") else verb


def savepoints(jobs: int) -> list[tuple[str, int]]:
    """The kit's savepoint statements of `jobs` jobs that each write (see batch._run_job).

    SQLite: each job makes and releases its own. PostgreSQL: the next job releases the one
    before in the statement that makes its own ("RELEASE ...; SAVEPOINT ..."); the commit
    releases the last.
    """
    if connection.vendor == "postgresql":
        return [("SAVEPOINT", 1)] + [("RELEASE SAVEPOINT", 1)] * (jobs - 1)
    return [("SAVEPOINT", 1), ("RELEASE SAVEPOINT", 1)] * jobs


def flushed(table: str, rows: int) -> tuple[str, int]:
    """The one statement that writes a batch's queued rows of `table` (COPY on PostgreSQL
    where no conflict is to be skipped: the message log)."""
    copy = connection.vendor == "postgresql" and table == "ocpp_messagelog"
    return (f"{'COPY' if copy else 'INSERT'} {table}", rows)


def connect(version: OcppVersion, charger_ids: Iterable[str]) -> list[ChargerConnection]:
    """Accepted stations, each connected (as the consumer opens a connection)."""
    opened = []
    for charger_id in charger_ids:
        station = ChargingStation.objects.create(
            charger_id=charger_id, registration_status=RegistrationStatus.ACCEPTED
        )
        charger = ChargerConnection(station, version, 65536)
        charger.open()
        opened.append(charger)
    return opened


def run_frames(frames: list[tuple[ChargerConnection, str]]) -> Counted:
    """Run the frames as one group-commit batch; count its statements; return the replies."""
    executor = GroupCommitExecutor(threads=0)  # the batch runs in this thread
    jobs = [(Future(), None, charger.receive, (text,), {}) for charger, text in frames]
    for future, *_ in jobs:
        future.set_running_or_notify_cancel()
    with CaptureQueriesContext(connection) as orm, sqlkit.counting() as kit:
        executor._run_batch(jobs)
    outcomes = [future.result() for future, *_ in jobs]
    refused = [outcome.replies for outcome in outcomes if outcome.error]
    assert not refused, refused
    replies = [orjson.loads(reply) for outcome in outcomes for reply in outcome.replies]
    return Counted([query["sql"] for query in orm.captured_queries], list(kit), replies)


_message_ids = itertools.count(1)


def call(action: str, payload: dict) -> str:
    """A CALL frame with a message id of its own (a connection refuses one used already)."""
    return orjson.dumps([2, f"m-{next(_message_ids)}", action, payload]).decode()
