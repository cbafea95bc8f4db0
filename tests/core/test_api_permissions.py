"""Who may use the API: authenticated users, each endpoint under its model's permissions."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.chargers.models import ChargingStation

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/chargers/",
    "/api/connectors/",
    "/api/transactions/",
    "/api/id-tags/",
    "/api/commands/",
]


@pytest.mark.parametrize("url", LISTS)
def test_it_refuses_anonymous_requests(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_it_refuses_an_anonymous_command():
    response = APIClient().post(
        "/api/commands/", {"charger": "X", "action": "Reset"}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.parametrize("url", LISTS)
def test_it_refuses_a_user_without_permissions(client_with, url):
    assert client_with().get(url).status_code == 403


def test_changing_a_station_does_not_imply_reading_it(client_with):
    client = client_with("chargers.change_chargingstation")
    assert client.get("/api/chargers/").status_code == 403


def test_reading_commands_does_not_allow_sending_them(client_with, make_station):
    make_station("CP-1")
    client = client_with("commands.view_chargercommand", "chargers.view_chargingstation")
    response = client.post(
        "/api/commands/", {"charger": "CP-1", "action": "ClearCache"}, format="json"
    )
    assert response.status_code == 403


def test_reading_stations_does_not_allow_approving_them(client_with, make_station):
    make_station("CP-1")
    client = client_with("chargers.view_chargingstation")
    response = client.post("/api/chargers/CP-1/approve/")
    assert response.status_code == 403
    assert "chargers.change_chargingstation" in response.json()["detail"]
    assert ChargingStation.objects.get().registration_status == "Pending"


def test_it_issues_a_token_that_authenticates_later_requests(make_user):
    make_user("chargers.view_chargingstation")
    client = APIClient()
    response = client.post(
        "/api/auth/token/",
        {"username": "operator1", "password": "a-long-test-password"},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/chargers/").status_code == 200


def test_it_refuses_a_token_for_a_wrong_password(make_user):
    make_user()
    response = APIClient().post(
        "/api/auth/token/", {"username": "operator1", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_a_bad_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/chargers/").status_code == 401
