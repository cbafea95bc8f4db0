"""The statement kit (apps.core.sqlkit): statements built once, read and written as the ORM
would, prepared on PostgreSQL, names quoted one way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from apps.chargers.models import ChargingStation
from apps.core import sqlkit
from apps.core.sqlkit import (
    Lookup,
    fast_insert,
    fast_update,
    fetch_one,
    quoted,
    row_exists,
    run_statement,
    select_value,
    statement,
)
from apps.core.timeutil import utcnow
from apps.transactions.models import MeterValue, Transaction
from tests.core.batching import run_batch

pytestmark = pytest.mark.django_db(transaction=True)


def test_fetch_one_and_fast_update_match_the_orm():
    """The per-message statements read and write what the ORM would."""
    station = ChargingStation.objects.create(charger_id="DBW-TX")
    started = utcnow().replace(microsecond=123000)
    stored = Transaction.objects.create(
        station=station, transaction_id="t-1", started_at=started, meter_start_wh=5
    )
    where = "station_id = %s AND transaction_id = %s"
    loaded = fetch_one(Transaction, where, [station.pk, "t-1"], lock=True)
    expected = Transaction.objects.get(pk=stored.pk)
    for field in Transaction._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert loaded.started_at.tzinfo is not None
    assert fetch_one(Transaction, where, [station.pk, "t-2"]) is None
    assert row_exists(Transaction, where, [station.pk, "t-1"])
    assert not row_exists(Transaction, where, [station.pk, "t-2"])

    loaded.charging_state = "Charging"
    loaded.stopped_at = started + timedelta(hours=1)
    loaded.meter_start_wh = 6
    fast_update(loaded, ["charging_state", "stopped_at", "updated_at"])
    again = Transaction.objects.get(pk=stored.pk)
    assert again.charging_state == "Charging"
    assert again.stopped_at == started + timedelta(hours=1)
    assert again.meter_start_wh == 5  # not among the fields written
    assert again.updated_at > expected.updated_at


def test_the_fixed_statements_are_prepared_on_postgresql(executor):
    """Unprepared, PostgreSQL parsed and planned every statement of every charger message:
    half of its work per TransactionEvent."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (SQLite's driver keeps its own cache)")
    probe = "SELECT count(*) FROM ocpp_messagelog WHERE charger_id = %s"

    def reads() -> int:
        return select_value(probe, ["DBW"])

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    futures = run_batch(executor, *[reads] * 6, prepared)
    assert [future.result() for future in futures[:6]] == [0] * 6
    assert any("FROM ocpp_messagelog WHERE charger_id = $1" in text for text in futures[6].result())


def test_sql_given_as_a_callable_is_built_once_per_statement():
    """Statement modules give their SQL as builders: quoted once, not per message."""
    station = ChargingStation.objects.create(charger_id="KIT-BUILD")
    tx = Transaction.objects.create(station=station, transaction_id="b-1", started_at=utcnow())
    built = []

    def where() -> str:
        built.append("where")
        station_id, transaction_id = (
            quoted(Transaction, "station"),
            quoted(Transaction, "transaction_id"),
        )
        return f"{station_id} = %s AND {transaction_id} = %s"

    for _ in range(3):
        assert fetch_one(Transaction, where, [station.pk, "b-1"]).pk == tx.pk
        assert row_exists(Transaction, where, [station.pk, "b-1"])
    assert not row_exists(Transaction, where, [station.pk, "b-2"])
    assert built == ["where", "where"]  # once for the SELECT, once for the EXISTS


def test_a_lookup_given_as_a_callable_is_found_by_the_insert():
    station = ChargingStation.objects.create(charger_id="KIT-LOOKUP")
    tx = Transaction.objects.create(station=station, transaction_id="l-1", started_at=utcnow())

    def find() -> str:
        table = quoted(Transaction)
        return (
            f"SELECT {quoted(Transaction, 'id')} FROM {table}"
            f" WHERE {quoted(Transaction, 'transaction_id')} = %s"
        )

    row = {"station_id": station.pk, "connector_id": 1, "timestamp": utcnow(), "value": "1"}
    fast_insert(
        MeterValue,
        [
            {**row, "transaction_id": Lookup(find, ("l-1",))},
            {**row, "value": "2", "timestamp": utcnow() + timedelta(seconds=1)},
        ],
        ignore_conflicts=False,
    )
    assert dict(MeterValue.objects.values_list("value", "transaction_id")) == {
        "1": tx.pk,
        "2": None,
    }
    assert select_value(find, ["l-1"]) == tx.pk


def test_quoted_names_are_the_databases_quoting_of_the_models_names():
    assert quoted(Transaction) == connection.ops.quote_name(Transaction._meta.db_table)
    assert quoted(Transaction, "station") == connection.ops.quote_name("station_id")


def test_the_bound_hook_runs_before_each_write_and_never_before_a_read():
    """The executor's seam: its savepoint maker runs before a job's writes, not its reads."""
    station = ChargingStation.objects.create(charger_id="KIT-HOOK")
    calls = []
    table, charger_id = quoted(ChargingStation), quoted(ChargingStation, "charger_id")
    read = statement(("test-hook-read",), lambda: f"SELECT 1 FROM {table} WHERE {charger_id} = %s")
    write = statement(
        ("test-hook-write",),
        lambda: f"UPDATE {table} SET {charger_id} = %s WHERE {charger_id} = %s",
    )
    sqlkit.bind(connection, lambda: calls.append("hook"))
    try:
        assert run_statement(read, ["KIT-HOOK"], rows=True, read=True) == [(1,)]
        assert calls == []
        run_statement(write, ["KIT-HOOKED", "KIT-HOOK"])
        assert calls == ["hook"]
    finally:
        sqlkit.bind(None)
    run_statement(write, ["KIT-HOOK", "KIT-HOOKED"])  # unbound: no hook
    assert calls == ["hook"]
    station.refresh_from_db()
    assert station.charger_id == "KIT-HOOK"
