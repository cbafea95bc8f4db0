"""The 2.1 tariff operations from the station's admin page: readable forms, the payload sent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.energy.models import Tariff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def offline_commands_end_at_once(settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False


def page(station: ChargingStation, name: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, name])


@pytest.fixture
def tariff() -> Tariff:
    return Tariff.objects.create(
        code="std",
        name="Standard",
        energy_price=Decimal("0.30"),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_set_default_tariff_offers_the_versions_and_sends_a_tariff_type(admin_client, tariff):
    station = ChargingStation.objects.create(charger_id="ST-TARIFF", ocpp_version="ocpp2.1")
    form = admin_client.get(page(station, "set_default_tariff")).content.decode()
    assert "Standard v1" in form
    response = admin_client.post(
        page(station, "set_default_tariff"), {"tariff": tariff.pk, "evse_id": "0"}
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get(station=station)
    assert command.action == "SetDefaultTariff" and command.source == "admin"
    assert command.payload["evseId"] == 0
    assert command.payload["tariff"]["energy"] == {"prices": [{"priceKwh": 0.3}]}


def test_clear_tariffs_sends_the_ids_given(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-CLEAR", ocpp_version="ocpp2.1")
    admin_client.post(page(station, "clear_tariffs"), {"tariff_ids": "std-v1, std-v2"})
    command = ChargerCommand.objects.get(station=station)
    assert command.payload == {"tariffIds": ["std-v1", "std-v2"]}


def test_a_tariff_id_too_long_is_a_form_error(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-LONG", ocpp_version="ocpp2.1")
    response = admin_client.post(page(station, "clear_tariffs"), {"tariff_ids": "x" * 61})
    assert response.status_code == 200
    assert "at most 60 characters" in response.content.decode()
    assert not ChargerCommand.objects.exists()


def test_a_201_station_is_not_offered_tariff_operations(admin_client):
    station = ChargingStation.objects.create(charger_id="ST-201", ocpp_version="ocpp2.0.1")
    assert admin_client.get(page(station, "set_default_tariff")).status_code == 404


SEND = ["commands.add_chargercommand", "commands.view_chargercommand"]


def api_operation(client, charger: str, operation: str, arguments: dict):
    return client.post(
        "/api/commands/operations/",
        {"charger": charger, "operation": operation, "arguments": arguments},
        format="json",
    )


def test_the_api_sends_a_tariff_by_its_version_id(client_with, tariff):
    ChargingStation.objects.create(charger_id="API-21", ocpp_version="ocpp2.1")
    client = client_with(*SEND)
    sent = api_operation(client, "API-21", "set_default_tariff", {"tariff": tariff.pk})
    assert sent.status_code == 201, sent.content
    assert sent.json()["action"] == "SetDefaultTariff"
    unknown = api_operation(client, "API-21", "set_default_tariff", {"tariff": 9999})
    assert unknown.status_code == 400 and "no tariff version" in unknown.json()["detail"]
    bad = api_operation(client, "API-21", "get_tariffs", {"evse_id": "all"})
    assert bad.status_code == 400 and "invalid payload" in bad.json()["detail"]


def test_the_api_refuses_tariff_operations_for_a_201_station(client_with, tariff):
    ChargingStation.objects.create(charger_id="API-201", ocpp_version="ocpp2.0.1")
    refused = api_operation(client_with(*SEND), "API-201", "get_tariffs", {})
    assert refused.status_code == 400
    assert "not an operation of OCPP 2.0.1" in refused.json()["detail"]
    assert not ChargerCommand.objects.exists()
