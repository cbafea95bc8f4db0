"""The Stop button of running sessions: lists, the transaction page, the dashboard rows."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.chargers.models import ChargingStation, Connector
from apps.commands.models import ChargerCommand, CommandStatus
from apps.core.timeutil import utcnow
from apps.transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def running() -> Transaction:
    station = ChargingStation.objects.create(
        charger_id="CP-STOP", registration_status="Accepted", ocpp_version="ocpp1.6"
    )
    connector = Connector.objects.create(station=station, connector_id=1)
    return Transaction.objects.create(
        station=station, connector=connector, transaction_id="55", id_tag="T", started_at=utcnow()
    )


def stop_url(tx: Transaction) -> str:
    return reverse("admin:transactions_transaction_stop", args=[tx.pk])


def test_the_list_shows_stop_on_running_sessions_only(admin_client, running):
    stopped = Transaction.objects.create(
        station=running.station, transaction_id="54", started_at=utcnow(), stopped_at=utcnow()
    )
    page = admin_client.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    assert f'href="{stop_url(running)}"' in page
    assert stop_url(stopped) not in page


def test_the_transaction_page_has_a_stop_button(admin_client, running):
    page = admin_client.get(
        reverse("admin:transactions_transaction_change", args=[running.pk])
    ).content.decode()
    assert 'id="transaction-stop"' in page and stop_url(running) in page


def test_stop_asks_first_then_sends_remote_stop_through_the_command_service(
    admin_client, admin_user, running
):
    page = admin_client.get(stop_url(running)).content.decode()
    assert "Ask station CP-STOP to stop the session on connector 1" in page
    assert not ChargerCommand.objects.exists()  # a GET sends nothing

    response = admin_client.post(stop_url(running), {"next": "/admin/control-center/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/control-center/"
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == ("RemoteStopTransaction", {"transactionId": 55})
    assert (command.source, command.requested_by) == ("admin", admin_user)
    assert command.status == CommandStatus.OFFLINE
    [message] = get_messages(response.wsgi_request)
    assert "Stop of session 55 on station CP-STOP: Charger offline" in str(message)


def test_stop_goes_back_only_to_this_site(admin_client, running):
    response = admin_client.post(stop_url(running), {"next": "https://evil.example/"})
    assert response["Location"] == reverse(
        "admin:transactions_transaction_change", args=[running.pk]
    )


def test_a_stopped_session_is_not_stopped_again(admin_client, running):
    running.stopped_at = utcnow()
    running.save(update_fields=["stopped_at"])
    response = admin_client.post(stop_url(running))
    assert response.status_code == 302
    assert not ChargerCommand.objects.exists()
    [message] = get_messages(response.wsgi_request)
    assert "Session 55 has already stopped." in str(message)


def test_stop_needs_the_permission_to_send_commands(staff_client, running):
    viewer = staff_client("transactions.view_transaction")
    page = viewer.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    assert stop_url(running) not in page
    assert viewer.post(stop_url(running)).status_code == 403
    assert not ChargerCommand.objects.exists()

    sender = staff_client("transactions.view_transaction", "commands.add_chargercommand")
    assert sender.post(stop_url(running)).status_code == 302
    assert ChargerCommand.objects.count() == 1


def test_dashboard_rows_have_stop_for_who_may_send_commands(staff_client, running):
    viewer = staff_client("chargers.view_chargingstation")
    assert "cc-stop" not in viewer.get("/admin/control-center/").content.decode()
    sender = staff_client("chargers.view_chargingstation", "commands.add_chargercommand")
    page = sender.get("/admin/control-center/").content.decode()
    assert f'href="{stop_url(running)}?next=/admin/control-center/"' in page
