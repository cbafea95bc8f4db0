"""Charging sessions and their meter values through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.transactions.models import Transaction
from apps.transactions.samples import SampledValue
from apps.transactions.services import meter_values_record, transaction_start, transaction_stop
from tests.personas import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client_with):
    return client_with("transactions.view_transaction")


def start(station, id_tag: str, connector_id: int = 1, minutes: int = 0) -> Transaction:
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start_wh=1000,
        started_at=T0 + timedelta(minutes=minutes),
        free_charging=True,
    )
    return tx


def stop(tx: Transaction) -> None:
    transaction_stop(
        station_id=tx.station_id,
        transaction_id=tx.transaction_id,
        meter_stop_wh=3500,
        stopped_at=T0 + timedelta(hours=1),
        reason="EVDisconnected",
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_it_shows_a_session(reader, make_station):
    tx = start(make_station("CP-1"), "DRIVER", connector_id=2)
    stop(tx)
    response = reader.get(f"/api/transactions/{tx.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["transaction_id"] == tx.transaction_id
    assert body["charger"] == "CP-1"
    assert body["connector_id"] == 2
    assert body["id_tag"] == "DRIVER"
    assert body["energy_wh"] == 2500
    assert body["is_active"] is False
    assert body["started_at"] == "2025-01-31T08:15:00.250Z"
    assert body["stop_reason"] == "EVDisconnected"


def test_it_filters_sessions(reader, make_station):
    one, two = make_station("CP-1"), make_station("CP-2")
    finished = start(one, "ALICE")
    stop(finished)
    running = start(one, "BOB", connector_id=2, minutes=5)
    elsewhere = start(two, "ALICE", minutes=10)
    assert ids(reader.get("/api/transactions/")) == [elsewhere.pk, running.pk, finished.pk]
    assert ids(reader.get("/api/transactions/", {"station": "CP-1"})) == [running.pk, finished.pk]
    assert ids(reader.get("/api/transactions/", {"active": "true"})) == [elsewhere.pk, running.pk]
    assert ids(reader.get("/api/transactions/", {"active": "false"})) == [finished.pk]
    assert ids(reader.get("/api/transactions/", {"id_tag": "ALICE"})) == [
        elsewhere.pk,
        finished.pk,
    ]
    combined = {"id_tag": "ALICE", "station": "CP-1", "active": "false"}
    assert ids(reader.get("/api/transactions/", combined)) == [finished.pk]


def test_sessions_are_read_only(client_with, make_station):
    tx = start(make_station("CP-1"), "DRIVER")
    client = client_with(
        "transactions.view_transaction",
        "transactions.change_transaction",
        "transactions.delete_transaction",
    )
    assert client.delete(f"/api/transactions/{tx.pk}/").status_code == 405
    assert Transaction.objects.filter(pk=tx.pk).exists()


def test_it_pages_through_the_meter_values_of_a_session(reader, make_station):
    station = make_station("CP-1")
    tx = start(station, "DRIVER")
    meter_values_record(
        station_id=station.pk,
        connector_id=1,
        transaction_id=tx.transaction_id,
        samples=[
            SampledValue(timestamp=T0 + timedelta(minutes=m), value=str(m), unit="kWh")
            for m in range(5)
        ],
    )
    first = reader.get(f"/api/transactions/{tx.pk}/meter-values/", {"page_size": 3})
    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 5
    assert [row["value"] for row in body["results"]] == ["0", "1", "2"]
    assert body["results"][1]["normalized_value"] == 1000.0
    assert body["results"][1]["normalized_unit"] == "Wh"
    assert body["results"][1]["timestamp"] == "2025-01-31T08:16:00.250Z"
    second = reader.get(body["next"])
    assert [row["value"] for row in second.json()["results"]] == ["3", "4"]


def test_meter_values_of_an_unknown_session_are_404(reader):
    assert reader.get("/api/transactions/999999/meter-values/").status_code == 404


def test_a_session_list_takes_a_fixed_number_of_queries(
    reader, make_station, django_assert_max_num_queries
):
    station = make_station("CP-1")
    for n in range(10):
        start(station, f"TAG-{n}", connector_id=n + 1)
    with django_assert_max_num_queries(4):
        assert reader.get("/api/transactions/").status_code == 200
