"""The station page in tabs (sections), with what is running shown as it stands."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation, Connector
from apps.core.timeutil import utcnow
from apps.dashboard.station_admin import STATION_TABS
from apps.transactions.models import MeterValue, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def station() -> ChargingStation:
    station = ChargingStation.objects.create(
        charger_id="CP-TABS", registration_status="Accepted", ocpp_version="ocpp1.6"
    )
    Connector.objects.create(station=station, connector_id=1)
    return station


def page_of(client, station: ChargingStation) -> str:
    url = reverse("admin:chargers_chargingstation_change", args=[station.pk])
    return client.get(url).content.decode()


def test_every_tab_has_its_sections(admin_client, station):
    page = page_of(admin_client, station)
    tabs = re.findall(r'data-tab="([a-z]+)"', page)
    assert tabs == [key for key, _label in STATION_TABS]
    assert [str(label) for _key, label in STATION_TABS] == [
        "Overview",
        "Connectors",
        "Sessions",
        "Commands",
        "Configuration",
        "Firmware & logs",
        "Message log",
    ]
    for key in tabs:
        if key == "connectors":  # the admin's inline: the script marks it
            assert 'id="connectors-group"' in page
            continue
        assert re.search(rf'class="[^"]*\bcc-tab-{key}\b', page), key
    # The raw frames are in their own tab, not in the connection's section.
    assert re.search(r'class="module[^"]*cc-tab-log[^"]*"', page)


def test_the_operations_show_once_each_in_the_commands_tab(admin_client, station):
    page = page_of(admin_client, station)
    assert 'class="module station-commands cc-tab-commands"' in page
    assert page.count("/command/reset/") == 1


def test_the_offline_note_is_there_for_the_live_script_to_toggle(admin_client, station):
    page = page_of(admin_client, station)
    assert f'data-offline-note="{station.pk}">' in page  # offline: shown
    station.is_connected = True
    station.save(update_fields=["is_connected"])
    assert f'data-offline-note="{station.pk}" hidden>' in page_of(admin_client, station)


def test_a_running_session_shows_the_energy_measured_so_far(admin_client, station):
    tx = Transaction.objects.create(
        station=station,
        connector=station.connectors.get(),
        transaction_id="9",
        meter_start_wh=1000,
        started_at=utcnow(),
    )
    MeterValue.objects.create(
        transaction=tx,
        station=station,
        connector_id=1,
        timestamp=utcnow(),
        measurand="Energy.Active.Import.Register",
        value="3500",
        unit="Wh",
        normalized_value=3500,
    )
    page = page_of(admin_client, station)
    assert '<td class="cc-number" data-field="energy">2.500</td>' in page


def test_the_connectors_show_their_status_in_the_operators_language(admin_client, station):
    Connector.objects.filter(station=station).update(status="SuspendedEV")
    Connector.objects.create(station=station, connector_id=2, status="VendorSpecial")

    english = page_of(admin_client, station)
    admin_client.cookies["django_language"] = "it"
    italian = admin_client.get(
        reverse("admin:chargers_chargingstation_change", args=[station.pk]),
        HTTP_ACCEPT_LANGUAGE="it",
    ).content.decode()

    assert "Suspended by vehicle" in english and "VendorSpecial" in english
    assert "Sospesa dal veicolo" in italian
    assert "SuspendedEV<" not in italian
