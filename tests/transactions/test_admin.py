"""The transaction admin: times to the second, active filter, read-only, one explicit close."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_connect, station_get_or_register
from apps.transactions.models import MeterValue, Transaction
from apps.transactions.samples import SampledValue
from apps.transactions.services import (
    CLOSED_MANUALLY,
    TransactionCloseError,
    meter_values_record,
    transaction_close_manually,
    transaction_start,
    transaction_stop,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 2, 2, 9, 0, 7, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"
CHANGELIST = "admin:transactions_transaction_changelist"


@pytest.fixture
def station(settings) -> ChargingStation:
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    station = station_get_or_register(charger_id="CP-ADM-1")
    return station_connect(station=station, ocpp_version="ocpp1.6", connection_id="c-1")


def start(station: ChargingStation, connector_id: int = 1, at: datetime = T0) -> Transaction:
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=connector_id,
        id_tag="DRIVER-1",
        meter_start_wh=1000,
        started_at=at,
    )
    return tx


def read_register(station: ChargingStation, tx: Transaction, wh: int) -> None:
    meter_values_record(
        station_id=station.pk,
        connector_id=1,
        transaction_id=tx.transaction_id,
        samples=[SampledValue(timestamp=T0, value=str(wh), measurand=ENERGY, unit="Wh")],
    )


def close(admin_client, tx: Transaction, reason: str):
    return admin_client.post(
        reverse(CHANGELIST),
        {"action": "close_manually", "_selected_action": [tx.pk], "apply": "1", "reason": reason},
    )


def test_the_list_shows_start_and_stop_to_the_second(admin_client, station):
    tx = start(station)
    transaction_stop(
        station_id=station.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=2000,
        stopped_at=datetime(2026, 2, 2, 10, 30, 59, tzinfo=UTC),
    )
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "2026-02-02 09:00:07" in page
    assert "2026-02-02 10:30:59" in page
    detail = admin_client.get(reverse("admin:transactions_transaction_change", args=[tx.pk]))
    assert "2026-02-02 09:00:07" in detail.content.decode()


def test_it_lists_active_sessions_only(admin_client, station):
    running = start(station, connector_id=1)
    stopped = start(station, connector_id=2)
    transaction_stop(
        station_id=station.pk, transaction_id=stopped.transaction_id, meter_stop_wh=1, stopped_at=T0
    )
    response = admin_client.get(reverse(CHANGELIST) + "?active=yes")
    assert [tx.pk for tx in response.context["cl"].result_list] == [running.pk]
    response = admin_client.get(reverse(CHANGELIST) + "?active=no")
    assert [tx.pk for tx in response.context["cl"].result_list] == [stopped.pk]


def test_a_superuser_cannot_add_change_or_delete_a_transaction(admin_client, station):
    tx = start(station)
    assert admin_client.get(reverse("admin:transactions_transaction_add")).status_code == 403
    change_url = reverse("admin:transactions_transaction_change", args=[tx.pk])
    assert admin_client.post(change_url, {"id_tag": "FORGED"}).status_code == 403
    delete_url = reverse("admin:transactions_transaction_delete", args=[tx.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [tx.pk]}
    )
    tx.refresh_from_db()
    assert tx.id_tag == "DRIVER-1"
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="delete_selected"' not in page
    assert 'value="close_manually"' in page and 'value="export_csv"' in page
    assert 'name="_save"' not in admin_client.get(change_url).content.decode()


def test_a_superuser_cannot_add_change_or_delete_a_meter_value(admin_client, station):
    tx = start(station)
    read_register(station, tx, 1500)
    value = MeterValue.objects.get(transaction=tx)
    assert admin_client.get(reverse("admin:transactions_metervalue_add")).status_code == 403
    change_url = reverse("admin:transactions_metervalue_change", args=[value.pk])
    assert admin_client.post(change_url, {"value": "9999"}).status_code == 403
    delete_url = reverse("admin:transactions_metervalue_delete", args=[value.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    value.refresh_from_db()
    assert value.value == "1500"
    page = admin_client.get(reverse("admin:transactions_metervalue_changelist")).content
    assert b'value="delete_selected"' not in page


def test_an_operator_closes_a_stuck_session_with_a_reason(admin_client, admin_user, station):
    tx = start(station)
    read_register(station, tx, 4200)
    form = admin_client.post(
        reverse(CHANGELIST), {"action": "close_manually", "_selected_action": [tx.pk]}
    )
    assert form.status_code == 200
    assert b'name="reason"' in form.content
    tx.refresh_from_db()
    assert tx.stopped_at is None  # the form alone closes nothing

    response = close(admin_client, tx, "Station CP-ADM-1 was replaced; it will never send a stop.")
    assert response.status_code == 302
    tx.refresh_from_db()
    assert tx.stopped_at is not None
    assert tx.stop_reason == CLOSED_MANUALLY
    assert tx.meter_stop_wh == 4200  # the energy last measured
    entry = LogEntry.objects.get_for_object(tx).get()
    assert entry.actor == admin_user
    assert entry.additional_data == {
        "reason": "Station CP-ADM-1 was replaced; it will never send a stop."
    }
    assert entry.changes["stop_reason"] == ["", CLOSED_MANUALLY]


def test_closing_needs_a_reason(admin_client, station):
    tx = start(station)
    response = close(admin_client, tx, "   ")
    assert response.status_code == 200
    assert b"This field is required." in response.content
    tx.refresh_from_db()
    assert tx.stopped_at is None


def test_a_stopped_session_is_not_closed_again(admin_user, station):
    tx = start(station)
    transaction_stop(
        station_id=station.pk, transaction_id=tx.transaction_id, meter_stop_wh=1300, stopped_at=T0
    )
    with pytest.raises(TransactionCloseError):
        transaction_close_manually(transaction=tx, by=admin_user, reason="stuck")
    tx.refresh_from_db()
    assert (tx.meter_stop_wh, tx.stop_reason) == (1300, "Local")
    assert not LogEntry.objects.get_for_object(tx).exists()


def test_a_late_stop_from_the_station_changes_nothing(admin_user, station):
    tx = start(station)
    transaction_close_manually(transaction=tx, by=admin_user, reason="station gone")
    transaction_stop(
        station_id=station.pk, transaction_id=tx.transaction_id, meter_stop_wh=9999, stopped_at=T0
    )
    tx.refresh_from_db()
    assert (tx.meter_stop_wh, tx.stop_reason) == (1000, CLOSED_MANUALLY)


def test_a_viewer_may_not_close_sessions(client, django_user_model, station):
    viewer = django_user_model.objects.create_user("viewer", password="pw-123456", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_transaction"))
    client.force_login(viewer)
    tx = start(station)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="close_manually"' not in page
    close(client, tx, "not allowed")
    tx.refresh_from_db()
    assert tx.stopped_at is None


def test_times_use_one_format_in_the_active_time_zone(admin_client, station, settings):
    settings.TIME_ZONE = "Europe/Rome"
    start(station)
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "2026-02-02 10:00:07" in page  # 09:00:07 UTC is 10:00:07 in Rome in February
    assert not re.search(r"Feb\. 2, 2026", page)
