"""Charging stations, connectors and configuration keys through the API."""

from __future__ import annotations

import pytest

from apps.chargers.models import ConfigurationKey
from tests.personas import T0, add_connector

pytestmark = pytest.mark.django_db

VIEW = "chargers.view_chargingstation"


@pytest.fixture
def reader(client_with):
    return client_with(VIEW)


def charger_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["charger_id"] for row in response.json()["results"]]


def test_it_lists_stations_a_page_at_a_time(reader, make_station):
    for n in range(3):
        make_station(f"CP-{n}")
    response = reader.get("/api/chargers/", {"page_size": 2})
    body = response.json()
    assert body["count"] == 3
    assert [row["charger_id"] for row in body["results"]] == ["CP-0", "CP-1"]
    assert body["next"] is not None


def test_it_filters_by_registration_status(reader, make_station):
    make_station("CP-A", registration_status="Accepted")
    make_station("CP-P")
    response = reader.get("/api/chargers/", {"registration_status": "Accepted"})
    assert charger_ids(response) == ["CP-A"]


def test_it_filters_by_connection(reader, make_station):
    make_station("CP-ON", is_connected=True)
    make_station("CP-OFF")
    assert charger_ids(reader.get("/api/chargers/", {"is_connected": "true"})) == ["CP-ON"]
    assert charger_ids(reader.get("/api/chargers/", {"is_connected": "false"})) == ["CP-OFF"]


def test_a_filter_value_of_the_wrong_type_is_a_400(reader):
    response = reader.get("/api/chargers/", {"is_connected": "perhaps"})
    assert response.status_code == 400
    assert "is_connected" in response.json()


def test_it_searches_by_charger_id(reader, make_station):
    make_station("GARAGE-1")
    make_station("STREET-1")
    assert charger_ids(reader.get("/api/chargers/", {"search": "garage"})) == ["GARAGE-1"]


def test_the_detail_has_connectors_and_utc_timestamps(reader, make_station):
    station = make_station("CP-1", vendor="ACME", last_heartbeat_at=T0)
    add_connector(station, 1, "Available")
    add_connector(station, 2, "Charging")
    response = reader.get("/api/chargers/CP-1/")
    assert response.status_code == 200
    body = response.json()
    assert body["vendor"] == "ACME"
    assert body["last_heartbeat_at"] == "2025-01-31T08:15:00.250Z"
    assert [(c["connector_id"], c["status"], c["availability"]) for c in body["connectors"]] == [
        (1, "Available", "Operative"),
        (2, "Charging", "Operative"),
    ]


def test_a_charger_id_with_a_dot_is_addressable(reader, make_station):
    make_station("site.cp-1")
    assert reader.get("/api/chargers/site.cp-1/").json()["charger_id"] == "site.cp-1"


def test_an_unknown_station_is_404(reader):
    assert reader.get("/api/chargers/NOPE/").status_code == 404


def test_it_lists_the_connectors_of_a_station(reader, make_station):
    station = make_station("CP-1")
    add_connector(station, 1, "Faulted")
    add_connector(make_station("CP-2"), 1, "Available")
    response = reader.get("/api/chargers/CP-1/connectors/")
    assert response.status_code == 200
    assert [(c["connector_id"], c["status"]) for c in response.json()] == [(1, "Faulted")]


def test_it_lists_the_configuration_of_a_station(reader, make_station):
    station = make_station("CP-1")
    ConfigurationKey.objects.create(station=station, key="HeartbeatInterval", value="300")
    ConfigurationKey.objects.create(station=station, key="Locked", value="1", readonly=True)
    response = reader.get("/api/chargers/CP-1/configuration/")
    assert response.status_code == 200
    assert [(k["key"], k["value"], k["readonly"]) for k in response.json()] == [
        ("HeartbeatInterval", "300", False),
        ("Locked", "1", True),
    ]


@pytest.mark.parametrize(("verb", "status"), [("approve", "Accepted"), ("reject", "Rejected")])
def test_an_operator_sets_the_registration(client_with, make_station, verb, status):
    station = make_station("CP-1")
    client = client_with("chargers.change_chargingstation")
    response = client.post(f"/api/chargers/CP-1/{verb}/")
    assert response.status_code == 200
    assert response.json()["registration_status"] == status
    station.refresh_from_db()
    assert station.registration_status == status


def test_approving_an_unknown_station_is_404(client_with):
    client = client_with("chargers.change_chargingstation")
    assert client.post("/api/chargers/NOPE/approve/").status_code == 404


def test_stations_are_read_only(client_with):
    client = client_with(VIEW, "chargers.add_chargingstation", "chargers.delete_chargingstation")
    assert client.post("/api/chargers/", {"charger_id": "X"}).status_code == 405


def test_the_connector_list_filters_by_station(client_with, make_station):
    add_connector(make_station("CP-1"), 1, "Available")
    add_connector(make_station("CP-2"), 1, "Charging")
    add_connector(make_station("CP-3"), 1, "Charging")
    client = client_with("chargers.view_connector")
    response = client.get("/api/connectors/", {"station": "CP-2"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["charger"], r["connector_id"], r["status"]) for r in rows] == [
        ("CP-2", 1, "Charging")
    ]
    charging = client.get("/api/connectors/", {"status": "Charging"}).json()
    assert charging["count"] == 2


def test_the_station_list_takes_a_fixed_number_of_queries(
    reader, make_station, django_assert_max_num_queries
):
    for n in range(10):
        add_connector(make_station(f"CP-{n}"), 1, "Available")
    # session/auth aside: one count, one page of stations
    with django_assert_max_num_queries(4):
        assert reader.get("/api/chargers/").status_code == 200
