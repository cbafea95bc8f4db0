"""The operation forms pick what exists: accepted id tags, running sessions, connectors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation, Connector, Site
from apps.commands.models import ChargerCommand
from apps.core.timeutil import utcnow
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.chargers.conftest import site_operator

pytestmark = pytest.mark.django_db


@pytest.fixture
def station() -> ChargingStation:
    station = ChargingStation.objects.create(
        charger_id="ADM-0001", registration_status="Accepted", ocpp_version="ocpp1.6"
    )
    Connector.objects.create(station=station, connector_id=1)
    return station


def command_url(station: ChargingStation, name: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, name])


def test_remote_start_offers_the_accepted_id_tags_and_sends_the_picked_one(admin_client, station):
    IdTag.objects.create(id_tag="DRIVER-OK")
    IdTag.objects.create(id_tag="DRIVER-BLOCKED", status="Blocked")
    page = admin_client.get(command_url(station, "remote_start")).content.decode()
    assert '<option value="DRIVER-OK">' in page
    assert "DRIVER-BLOCKED" not in page
    assert 'list="id_id_tag-choices"' in page
    assert "Remote start · station ADM-0001" in page
    # One connector: it is preselected.
    assert '<option value="1" selected>Connector 1</option>' in page

    response = admin_client.post(
        command_url(station, "remote_start"), {"id_tag": "DRIVER-OK", "connector_id": "1"}
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get()
    assert command.payload == {"idTag": "DRIVER-OK", "connectorId": 1}


def test_remote_start_offers_a_site_operator_only_the_cards_of_their_sites(client, station):
    site_a, site_b = Site.objects.create(name="A"), Site.objects.create(name="B")
    station.site = site_a
    station.save(update_fields=["site"])
    IdTag.objects.create(id_tag="CARD-OF-A", site=site_a)
    IdTag.objects.create(id_tag="CARD-OF-B", site=site_b)
    IdTag.objects.create(id_tag="CARD-OF-NO-SITE")
    client.force_login(site_operator("operator-a", site_a))
    page = client.get(command_url(station, "remote_start")).content.decode()
    assert '<option value="CARD-OF-A">' in page
    assert "CARD-OF-B" not in page
    assert "CARD-OF-NO-SITE" not in page


def test_remote_stop_picks_one_of_the_station_s_running_sessions(admin_client, station):
    connector = station.connectors.get()
    Transaction.objects.create(
        station=station, connector=connector, transaction_id="41", id_tag="A", started_at=utcnow()
    )
    Transaction.objects.create(
        station=station,
        connector=connector,
        transaction_id="40",
        id_tag="B",
        started_at=utcnow(),
        stopped_at=utcnow(),
    )
    page = admin_client.get(command_url(station, "remote_stop")).content.decode()
    assert '<select name="transaction_id"' in page
    assert '<option value="41" selected>41 · connector 1 · A · since' in page
    assert 'value="40"' not in page  # stopped: not offered

    response = admin_client.post(command_url(station, "remote_stop"), {"transaction_id": "40"})
    assert response.status_code == 200
    assert "transaction_id" in response.context["form"].errors
    assert not ChargerCommand.objects.exists()

    response = admin_client.post(command_url(station, "remote_stop"), {"transaction_id": "41"})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().payload == {"transactionId": 41}


def test_remote_stop_says_when_no_session_is_running(admin_client, station):
    page = admin_client.get(command_url(station, "remote_stop")).content.decode()
    assert "No session is running on this station." in page


def test_reset_defaults_to_soft(admin_client, station):
    page = admin_client.get(command_url(station, "reset")).content.decode()
    assert 'value="0" required id="id_hard_0" checked' in page
    assert ">When:</label>" in page  # labels start with a capital, as the admin's own


def test_connector_fields_offer_the_station_s_connectors(admin_client, station):
    Connector.objects.create(station=station, connector_id=2)
    unlock = admin_client.get(command_url(station, "unlock")).content.decode()
    assert '<option value="1" selected>Connector 1</option>' in unlock
    assert '<option value="2">Connector 2</option>' in unlock
    availability = admin_client.get(command_url(station, "change_availability")).content.decode()
    assert '<option value="0" selected>The whole station</option>' in availability
    assert 'value="1" required id="id_operative_0" checked' in availability
    trigger = admin_client.get(command_url(station, "trigger_message")).content.decode()
    assert '<option value="" selected>The station as a whole</option>' in trigger

    response = admin_client.post(command_url(station, "unlock"), {"connector_id": "2"})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().payload == {"connectorId": 2}


def test_a_station_that_reported_no_connector_keeps_a_number_field(admin_client):
    bare = ChargingStation.objects.create(charger_id="ADM-0002", ocpp_version="ocpp1.6")
    page = admin_client.get(command_url(bare, "unlock")).content.decode()
    assert 'type="number" name="connector_id"' in page
