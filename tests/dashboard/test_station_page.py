"""The station page: live status, one-click approval, transactions, message log filter."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.ocpp.models import MessageLog


@pytest.fixture
def pending(db) -> ChargingStation:
    return ChargingStation.objects.create(charger_id="CP-NEW")


def page(client, station) -> str:
    url = reverse("admin:chargers_chargingstation_change", args=[station.pk])
    return client.get(url).content.decode()


@pytest.mark.parametrize(
    "status, word",
    [(RegistrationStatus.ACCEPTED, "approved"), (RegistrationStatus.REJECTED, "rejected")],
)
def test_one_click_approves_or_rejects_a_pending_station(client, operator, pending, status, word):
    client.force_login(operator)
    assert 'id="cc-approve"' in page(client, pending)
    response = client.post(
        reverse("dashboard:station_registration", args=[pending.pk]),
        {"status": status},
        follow=True,
    )
    pending.refresh_from_db()
    assert pending.registration_status == status
    assert word in response.content.decode()
    assert 'id="cc-approve"' not in response.content.decode()


def test_only_those_who_may_change_stations_approve(client, viewer, pending):
    client.force_login(viewer)
    assert 'id="cc-approve"' not in page(client, pending)
    response = client.post(
        reverse("dashboard:station_registration", args=[pending.pk]), {"status": "Accepted"}
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.registration_status == RegistrationStatus.PENDING


def test_the_page_shows_live_status_and_the_stations_transactions(
    client, operator, charging, station
):
    client.force_login(operator)
    html = page(client, station)
    assert f'class="cc-station cc-station-panel" data-station="{station.pk}"' in html
    assert 'data-field="online">Online' in html
    assert "Firmware: 1.2.3" in html
    assert 'id="station-transactions"' in html
    assert f'href="{charging.get_absolute_url()}">{charging.transaction_id}</a>' in html
    assert 'form="cc-log-filter"' in html and 'id="cc-log-filter"' in html


def test_the_log_filter_leads_to_the_filtered_message_log(client, operator, station):
    MessageLog.objects.create(
        charger_id=station.charger_id,
        direction="in",
        action="Heartbeat",
        frame="[2]",
        created_at=station.connected_at,
    )
    client.force_login(operator)
    assert '<option value="Heartbeat">' in page(client, station)
    response = client.get(
        reverse("dashboard:message_log"),
        {
            "charger_id": station.charger_id,
            "direction": "in",
            "action": "Heartbeat",
            "since": "2025-03-01T10:00",
            "until": "",
        },
    )
    assert response.status_code == 302
    target = urlsplit(response.url)
    assert target.path == reverse("admin:ocpp_messagelog_changelist")
    query = parse_qs(target.query)
    assert query == {
        "charger_id": [station.charger_id],
        "direction__exact": ["in"],
        "action__exact": ["Heartbeat"],
        "created_at__gte": ["2025-03-01T10:00:00+00:00"],
    }
    listing = client.get(response.url)
    assert listing.status_code == 200 and "1 OCPP message" in listing.content.decode()


def test_the_log_filter_offers_recent_periods(client, operator, station):
    client.force_login(operator)
    response = client.get(
        reverse("dashboard:message_log"), {"period": "1h", "direction": "sideways"}
    )
    query = parse_qs(urlsplit(response.url).query)
    assert set(query) == {"created_at__gte"}


def sent_messages(response) -> list[str]:
    """Return the texts of the admin messages the response puts in the messages cookie."""
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    cookie = response.cookies.get("messages")
    if cookie is None or not cookie.value:
        return []
    return [str(message) for message in CookieStorage(HttpRequest())._decode(cookie.value) or []]


@pytest.mark.parametrize(
    ("version", "length"), [("ocpp1.6", 20), ("ocpp2.0.1", 32)], ids=["1.6", "2.0.1"]
)
def test_a_generated_password_is_shown_once_and_kept_out_of_cookies(
    admin_client, db, version, length
):
    from apps.security.passwords import password_matches

    stations = [
        ChargingStation.objects.create(charger_id=f"CP-PW-{n}", ocpp_version=version)
        for n in (1, 2)
    ]

    response = admin_client.post(
        reverse("admin:chargers_chargingstation_changelist"),
        {"action": "generate_password", "_selected_action": [s.pk for s in stations]},
    )

    shown = [word for text in sent_messages(response) for word in text.split()]
    for station in stations:
        station.refresh_from_db()
        assert not any(password_matches(word, station.password_hash) for word in shown)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    for station in stations:
        start = html.index(f"<code>{station.charger_id}</code>")
        password = html[start:].split('<code class="new-password">', 1)[1].split("</code>")[0]
        assert len(password) == length
        assert password_matches(password, station.password_hash)
    assert "messages" not in response.cookies
