"""Commands to chargers through the API (without a charger on the line)."""

from __future__ import annotations

import pytest

from apps.commands.models import ChargerCommand
from apps.commands.services import send_command

pytestmark = pytest.mark.django_db

SEND = ["commands.add_chargercommand", "commands.view_chargercommand"]


@pytest.fixture
def operator(client_with):
    return client_with(*SEND)


def post(client, body: dict, query: str = ""):
    return client.post(f"/api/commands/{query}", body, format="json")


def test_a_command_to_an_offline_station_is_offline_at_once(operator, make_station):
    make_station("CP-1", registration_status="Accepted")
    response = post(operator, {"charger": "CP-1", "action": "Reset", "payload": {"type": "Soft"}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "offline"
    assert body["is_final"] is True
    assert body["charger"] == "CP-1"
    assert body["action"] == "Reset"
    assert body["payload"] == {"type": "Soft"}
    assert body["source"] == "api"
    assert body["requested_by"] == "operator1"
    assert body["error_description"] == "the charger is not connected"
    command = ChargerCommand.objects.get()
    assert command.pk == body["id"]
    assert command.requested_by.username == "operator1"


def test_an_offline_command_with_wait_comes_back_at_once(operator, make_station):
    make_station("CP-1")
    response = post(operator, {"charger": "CP-1", "action": "ClearCache"}, "?wait=30")
    assert response.status_code == 201
    assert response.json()["status"] == "offline"


def test_a_given_timeout_is_kept(operator, make_station):
    make_station("CP-1")
    body = {"charger": "CP-1", "action": "ClearCache", "payload": {}, "timeout": 12.5}
    response = post(operator, body)
    assert response.json()["timeout"] == 12.5


def test_a_payload_that_breaks_the_schema_is_a_400_naming_the_problem(operator, make_station):
    make_station("CP-1")
    response = post(
        operator, {"charger": "CP-1", "action": "Reset", "payload": {"type": "Sideways"}}
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "invalid payload" in detail
    assert "type" in detail
    assert "Sideways" in detail
    assert not ChargerCommand.objects.exists()


def test_a_missing_required_field_is_named(operator, make_station):
    make_station("CP-1")
    response = post(operator, {"charger": "CP-1", "action": "Reset", "payload": {}})
    assert response.status_code == 400
    assert "type" in response.json()["detail"]


def test_an_unknown_action_is_a_400(operator, make_station):
    make_station("CP-1")
    response = post(operator, {"charger": "CP-1", "action": "SelfDestruct"})
    assert response.status_code == 400
    assert "SelfDestruct is not an OCPP 1.6 action" in response.json()["detail"]
    assert not ChargerCommand.objects.exists()


def test_an_unknown_charger_is_a_400_naming_it(operator):
    response = post(operator, {"charger": "GHOST", "action": "Reset", "payload": {"type": "Soft"}})
    assert response.status_code == 400
    assert response.json() == {"charger": ["No charger with id 'GHOST'."]}


def test_a_payload_must_be_an_object(operator, make_station):
    make_station("CP-1")
    response = post(operator, {"charger": "CP-1", "action": "Reset", "payload": ["Soft"]})
    assert response.status_code == 400
    assert "payload" in response.json()


def test_missing_fields_are_named(operator):
    response = post(operator, {})
    assert response.status_code == 400
    assert set(response.json()) == {"charger", "action"}


@pytest.mark.parametrize("wait", ["0", "-1", "61", "soon", "nan"])
def test_a_wait_out_of_range_is_a_400_and_sends_nothing(operator, make_station, wait):
    make_station("CP-1")
    response = post(operator, {"charger": "CP-1", "action": "ClearCache"}, f"?wait={wait}")
    assert response.status_code == 400
    assert "wait" in response.json()
    assert not ChargerCommand.objects.exists()


def test_it_lists_and_filters_commands(operator, make_station):
    one, two = make_station("CP-1"), make_station("CP-2")
    reset = send_command(station=one, action="Reset", payload={"type": "Soft"})
    clear = send_command(station=one, action="ClearCache", payload={})
    other = send_command(station=two, action="ClearCache", payload={})
    ChargerCommand.objects.filter(pk=clear.pk).update(status="accepted")

    def ids(**params) -> list[int]:
        response = operator.get("/api/commands/", params)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [other.pk, clear.pk, reset.pk]
    assert ids(station="CP-1") == [clear.pk, reset.pk]
    assert ids(action="ClearCache") == [other.pk, clear.pk]
    assert ids(status="offline") == [other.pk, reset.pk]
    assert ids(status="accepted", station="CP-1") == [clear.pk]


def test_it_returns_one_command_and_waits_no_longer_than_its_outcome(operator, make_station):
    command = send_command(station=make_station("CP-1"), action="ClearCache", payload={})
    response = operator.get(f"/api/commands/{command.pk}/", {"wait": 60})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == command.pk
    assert body["status"] == "offline"
    assert body["requested_by"] is None
    assert body["created_at"].endswith("Z")


def test_polling_a_bad_wait_is_a_400(operator, make_station):
    command = send_command(station=make_station("CP-1"), action="ClearCache", payload={})
    response = operator.get(f"/api/commands/{command.pk}/", {"wait": 100})
    assert response.status_code == 400


def test_commands_cannot_be_changed_or_deleted(client_with, make_station):
    command = send_command(station=make_station("CP-1"), action="ClearCache", payload={})
    client = client_with(*SEND, "commands.change_chargercommand", "commands.delete_chargercommand")
    assert client.delete(f"/api/commands/{command.pk}/").status_code == 405
    assert client.patch(f"/api/commands/{command.pk}/", {}, format="json").status_code == 405


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        (
            "SignedUpdateFirmware",
            {
                "requestId": 4,
                "firmware": {
                    "location": "https://fw.example.com/fw.bin",
                    "retrieveDateTime": "2026-12-04T10:00:00.000Z",
                    "signingCertificate": "-----BEGIN CERTIFICATE-----",
                    "signature": "QUJD",
                },
            },
        ),
        (
            "GetLog",
            {
                "logType": "SecurityLog",
                "requestId": 5,
                "log": {"remoteLocation": "https://logs.example.com/"},
            },
        ),
    ],
)
def test_the_1_6_security_extension_commands_go_through_the_api(
    operator, make_station, action, payload
):
    make_station("CP-16", ocpp_version="ocpp1.6")
    response = post(operator, {"charger": "CP-16", "action": action, "payload": payload})
    assert response.status_code == 201, response.content
    assert (response.json()["action"], response.json()["status"]) == (action, "offline")
    payload = {**payload, "requestId": "four"}
    refused = post(operator, {"charger": "CP-16", "action": action, "payload": payload})
    assert refused.status_code == 400
    assert "requestId" in refused.json()["detail"]
