"""Version-neutral operations from the station's admin page, for every OCPP version."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.commands.registry import operations
from apps.devicemodel.models import DeviceVariable

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def offline_commands_end_at_once(settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False


def page(station: ChargingStation, name: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, name])


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize("operation", sorted(operation.name for operation in operations()))
def test_every_operation_form_renders_or_is_not_offered(admin_client, version, operation):
    station = ChargingStation.objects.create(charger_id="ST-OPS", ocpp_version=version)
    response = admin_client.get(page(station, operation))
    offered = (
        page(station, operation)
        in admin_client.get(
            reverse("admin:chargers_chargingstation_change", args=[station.pk])
        ).content.decode()
    )
    if not offered:  # an operation of another version (GetReport is 2.x only)
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response.context["form"].operation == operation


@pytest.mark.parametrize(
    ("version", "payload"),
    [
        ("ocpp1.6", {"type": "Hard"}),
        ("ocpp2.0.1", {"type": "Immediate"}),
        ("ocpp2.1", {"type": "Immediate"}),
    ],
)
def test_the_reset_operation_sends_the_version_s_payload(admin_client, version, payload):
    station = ChargingStation.objects.create(charger_id="ST-RESET", ocpp_version=version)
    response = admin_client.post(page(station, "reset"), {"hard": "1"})
    assert response.status_code == 302
    command = ChargerCommand.objects.get(station=station)
    assert (command.action, command.payload, command.status, command.source) == (
        "Reset",
        payload,
        "offline",
        "admin",
    )


def test_a_2x_station_page_offers_its_operations_once(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-V2", ocpp_version="ocpp2.0.1")
    DeviceVariable.objects.create(
        station=station, component="OCPPCommCtrlr", variable="HeartbeatInterval", value="300"
    )
    response = admin_client.get(reverse("admin:chargers_chargingstation_change", args=[station.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count(page(station, "remote_start")) == 1
    assert html.count(page(station, "get_report")) == 1  # a 2.x-only operation
    assert page(station, "GetVariables") not in html  # sent by get_configuration
    assert "OCPPCommCtrlr/HeartbeatInterval" in html


def test_a_2x_command_is_sent_with_its_json_payload_as_a_fallback(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-RAW", ocpp_version="ocpp2.1")
    payload = '{"requestId": 3, "reportBase": "FullInventory"}'
    response = admin_client.post(
        page(station, "GetBaseReport"), {"_raw": "1", "raw-payload": payload}
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get(station=station)
    assert (command.action, command.payload) == (
        "GetBaseReport",
        {"requestId": 3, "reportBase": "FullInventory"},
    )


def test_a_command_of_another_version_is_not_offered(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-16", ocpp_version="ocpp1.6")
    assert admin_client.get(page(station, "GetVariables")).status_code == 404


def test_a_bad_2x_key_is_a_form_error(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-KEY", ocpp_version="ocpp2.0.1")
    response = admin_client.post(
        page(station, "set_configuration"), {"key": "not a key", "value": "1"}
    )
    assert response.status_code == 200
    assert "Component/Variable" in response.content.decode()
    assert not ChargerCommand.objects.exists()


def test_an_operation_with_two_actions_lets_the_raw_form_choose(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-TWO", ocpp_version="ocpp2.0.1")
    payload = '{"getVariableData": [{"component": {"name": "C"}, "variable": {"name": "V"}}]}'
    response = admin_client.post(
        page(station, "get_configuration"),
        {"_raw": "1", "raw-action": "GetVariables", "raw-payload": payload},
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get(station=station)
    assert command.action == "GetVariables"


@pytest.mark.parametrize(
    ("version", "data", "action", "payload"),
    [
        (
            "ocpp2.0.1",
            {"message": "StatusNotification", "connector_id": "2"},
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "evse": {"id": 2}},
        ),
        ("ocpp2.1", {"transaction_id": "TX-9"}, "GetTransactionStatus", {"transactionId": "TX-9"}),
        (
            "ocpp2.0.1",
            {"criteria": ["Problem"], "components": "EVSE\nOCPPCommCtrlr/HeartbeatInterval"},
            "GetReport",
            None,
        ),
    ],
)
def test_2x_operations_send_the_2x_payload(admin_client, version, data, action, payload):
    station = ChargingStation.objects.create(charger_id="ST-2X", ocpp_version=version)
    name = {
        "TriggerMessage": "trigger_message",
        "GetTransactionStatus": "get_transaction_status",
        "GetReport": "get_report",
    }[action]
    response = admin_client.post(page(station, name), data)
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get(station=station)
    assert command.action == action
    if payload is not None:
        assert command.payload == payload
    else:
        assert command.payload["componentCriteria"] == ["Problem"]
        assert command.payload["componentVariable"] == [
            {"component": {"name": "EVSE"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        ]
