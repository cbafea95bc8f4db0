"""A station's password is set only by the password rotation, never by a raw command.

A raw ChangeConfiguration of AuthorizationKey (1.6) or SetVariables of SecurityCtrlr/
BasicAuthPassword (2.x) would store the password in clear in the command row and the
message log and leave the station's stored hash as it was (the station locked out at its
next connection). The rotation keeps a placeholder and moves the hash along.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError as ManagementCommandError
from django.core.management import call_command
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.services import SECRET_PLACEHOLDER

pytestmark = pytest.mark.django_db

SEND = ["commands.add_chargercommand", "commands.view_chargercommand"]
CLEAR = "an-operator-typed-password-01"
SET_VARIABLES = {
    "setVariableData": [
        {
            "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"},
            "attributeValue": CLEAR,
        }
    ]
}
RAW = {
    "1.6": ("ocpp1.6", "ChangeConfiguration", {"key": "AuthorizationKey", "value": CLEAR}),
    "1.6 other case": (
        "ocpp1.6",
        "ChangeConfiguration",
        {"key": "authorizationkey", "value": CLEAR},
    ),
    "2.0.1": ("ocpp2.0.1", "SetVariables", SET_VARIABLES),
    "2.1": ("ocpp2.1", "SetVariables", SET_VARIABLES),
}


@pytest.fixture(autouse=True)
def offline_commands_end_at_once(settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False


def station_of(version: str) -> ChargingStation:
    return ChargingStation.objects.create(
        charger_id="CP-PW", ocpp_version=version, registration_status="Accepted"
    )


def assert_nothing_stored(station: ChargingStation) -> None:
    assert not ChargerCommand.objects.exists()
    station.refresh_from_db()
    assert (station.password_hash, station.pending_password_hash) == ("", "")


@pytest.mark.parametrize("case", RAW)
def test_the_api_refuses_a_raw_password_command(client_with, case):
    version, action, payload = RAW[case]
    station = station_of(version)

    response = client_with(*SEND).post(
        "/api/commands/", {"charger": "CP-PW", "action": action, "payload": payload}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "rotate_password" in response.json()["detail"]
    assert CLEAR not in response.content.decode()
    assert_nothing_stored(station)


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
def test_the_api_refuses_the_password_through_set_configuration(client_with, version):
    station = station_of(version)

    response = client_with(*SEND).post(
        "/api/commands/operations/",
        {
            "charger": "CP-PW",
            "operation": "set_configuration",
            "arguments": {"key": "AuthorizationKey", "value": CLEAR},
        },
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "rotate_password" in response.json()["detail"]
    assert_nothing_stored(station)


@pytest.mark.parametrize("case", ["1.6", "2.0.1"])
def test_the_admin_refuses_a_raw_password_command(admin_client, case):
    version, action, payload = RAW[case]
    station = station_of(version)

    response = admin_client.post(
        reverse("admin:chargers_chargingstation_command", args=[station.pk, action]),
        {"raw-action": action, "raw-payload": json.dumps(payload), "_raw": "Send"},
    )

    assert response.status_code == 200
    errors = str(response.context["raw_form"].non_field_errors())
    assert "rotate_password" in errors
    assert_nothing_stored(station)


def test_the_cli_refuses_a_raw_password_command():
    station = station_of("ocpp1.6")
    payload = json.dumps({"key": "AuthorizationKey", "value": CLEAR})
    with pytest.raises(ManagementCommandError, match="rotate_password"):
        call_command("ocpp_command", "CP-PW", "ChangeConfiguration", payload)
    assert_nothing_stored(station)


@pytest.mark.parametrize(
    ("version", "action"), [("ocpp1.6", "ChangeConfiguration"), ("ocpp2.1", "SetVariables")]
)
def test_the_api_rotates_a_password_by_name(client_with, version, action):
    station = station_of(version)

    response = client_with(*SEND).post(
        "/api/commands/operations/",
        {"charger": "CP-PW", "operation": "rotate_password"},
        format="json",
    )

    assert response.status_code == 201, response.content
    command = ChargerCommand.objects.get()
    assert command.action == action
    assert SECRET_PLACEHOLDER in json.dumps(command.payload)
    station.refresh_from_db()
    assert station.pending_password_hash
