"""The dashboard page, server-rendered: stations, connectors, running transactions, failures."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_disconnect
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import command_finish
from apps.security.services import security_event_record


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(reverse("dashboard:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_it_refuses_staff_who_may_not_see_stations(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x" * 20, is_staff=True)
    client.force_login(user)
    assert client.get(reverse("dashboard:index")).status_code == 403


def test_it_shows_each_station_with_its_state_and_connectors(client, operator, station):
    ChargingStation.objects.create(charger_id="CP-DASH-OFF")
    client.force_login(operator)
    response = client.get(reverse("dashboard:index"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-station="{station.pk}"' in html
    assert "CP-DASH-OFF" in html
    assert 'class="cc-state cc-online" data-field="online">Online' in html
    assert 'class="cc-state cc-offline" data-field="online">Offline' in html
    assert 'class="cc-connector cc-status-charging" data-connector="1"' in html
    assert 'class="cc-connector cc-status-faulted" data-connector="2"' in html
    assert 'id="cc-online-count">1<' in html
    assert 'data-live-path="/admin/live/"' in html


def test_it_shows_live_power_and_energy_of_running_transactions(client, operator, charging):
    client.force_login(operator)
    html = client.get(reverse("dashboard:index")).content.decode()
    assert f'data-transaction="{charging.pk}"' in html
    assert 'data-watts="7400.0">7.40<' in html  # the newest Power.Active.Import, in kW
    assert ">0.350<" in html  # 1350 Wh register - 1000 Wh meter start
    assert 'id="cc-total-power">7.40<' in html


def test_an_offline_station_s_open_transaction_has_no_live_power(
    client, operator, station, charging
):
    """After a restart, say: the session stays open and listed, its last reading is no
    figure of now, nor are its connectors' last statuses."""
    station_disconnect(station_id=station.pk, connection_id="c1")
    client.force_login(operator)
    html = client.get(reverse("dashboard:index")).content.decode()
    assert 'id="cc-online-count">0<' in html
    assert f'data-transaction="{charging.pk}"' in html
    assert 'id="cc-transaction-count">1<' in html
    assert 'id="cc-total-power">0.00<' in html
    assert 'id="cc-charging-count">0<' in html
    assert 'data-watts="">-<' in html
    assert ">0.350<" in html  # the energy measured so far is kept


def test_it_lists_failed_commands_and_security_events(client, operator, station):
    failed = ChargerCommand.objects.create(
        station=station, action="Reset", payload={"type": "Soft"}, timeout_s=5
    )
    command_finish(command=failed, status=CommandStatus.TIMEOUT, error_description="no answer")
    fine = ChargerCommand.objects.create(
        station=station, action="ClearCache", payload={}, timeout_s=5
    )
    command_finish(command=fine, status=CommandStatus.ACCEPTED, response={"status": "Accepted"})
    security_event_record(source="csms", event_type="InvalidPassword", charger_id="CP-X")
    client.force_login(operator)
    html = client.get(reverse("dashboard:index")).content.decode()
    assert "<strong>Reset</strong>" in html and "no answer" in html
    assert "<strong>ClearCache</strong>" not in html
    assert "<strong>InvalidPassword</strong> CP-X" in html


@pytest.mark.parametrize(
    "language, word", [("en", "Control center"), ("it", "Centro di controllo")]
)
def test_it_speaks_english_and_italian(client, operator, station, language, word):
    client.force_login(operator)
    html = client.get(reverse("dashboard:index"), headers={"accept-language": language})
    assert word in html.content.decode()


def test_the_admin_index_links_to_the_dashboard(client, operator):
    client.force_login(operator)
    html = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("dashboard:index")}" id="cc-open-dashboard"' in html
