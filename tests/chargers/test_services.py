"""Station connection and boot bookkeeping: what a connect, a boot and a drop store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from apps.chargers.models import ChargingStation, RegistrationStatus, StatusEvent
from apps.chargers.services import (
    ConnectorStatus,
    StationIdentity,
    connector_status_update,
    station_boot,
    station_connect,
    station_disconnect,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def station() -> ChargingStation:
    return ChargingStation.objects.create(
        charger_id="SVC-1", registration_status=RegistrationStatus.ACCEPTED, vendor="Old"
    )


def test_it_marks_the_station_connected_on_its_connection(station):
    station_connect(station=station, ocpp_version="ocpp2.0.1", connection_id="c1")
    stored = ChargingStation.objects.get(pk=station.pk)
    assert stored.is_connected
    assert stored.connection_id == "c1"
    assert stored.ocpp_version == "ocpp2.0.1"
    assert stored.connected_at is not None
    assert stored.last_seen_at == stored.connected_at
    assert stored.vendor == "Old"  # only the connection fields are written


def test_it_records_the_drop_of_the_current_connection(station):
    station_connect(station=station, ocpp_version="ocpp1.6", connection_id="c1")
    station_disconnect(station_id=station.pk, connection_id="c1")
    stored = ChargingStation.objects.get(pk=station.pk)
    assert not stored.is_connected
    assert stored.disconnected_at is not None
    assert stored.last_seen_at == stored.disconnected_at


def test_a_late_drop_of_a_replaced_connection_does_not_count(station):
    station_connect(station=station, ocpp_version="ocpp1.6", connection_id="old")
    station_connect(station=station, ocpp_version="ocpp1.6", connection_id="new")
    station_disconnect(station_id=station.pk, connection_id="old")
    stored = ChargingStation.objects.get(pk=station.pk)
    assert stored.is_connected
    assert stored.connection_id == "new"
    assert stored.disconnected_at is None


def test_a_boot_stores_the_identity_and_answers_with_the_current_registration(station):
    ChargingStation.objects.filter(pk=station.pk).update(
        registration_status=RegistrationStatus.REJECTED, name="Operator's name"
    )
    booted = station_boot(
        station_id=station.pk,
        identity=StationIdentity(vendor="ACME", model="X1", firmware_version="1.2"),
        reason="PowerUp",
    )
    assert booted.registration_status == RegistrationStatus.REJECTED
    assert booted.free_charging is False
    stored = ChargingStation.objects.get(pk=station.pk)
    assert (stored.vendor, stored.model, stored.firmware_version) == ("ACME", "X1", "1.2")
    assert stored.last_boot_reason == "PowerUp"
    assert stored.last_boot_at is not None
    assert stored.last_seen_at == stored.last_boot_at == booted.booted_at
    assert stored.name == "Operator's name"  # what the boot does not say is left alone
    assert stored.registration_status == RegistrationStatus.REJECTED


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "update-then-read"])
def test_a_boot_answers_with_free_charging_on_either_kind_of_database(
    station, monkeypatch, returning
):
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", returning)
    ChargingStation.objects.filter(pk=station.pk).update(free_charging=True)
    booted = station_boot(station_id=station.pk, identity=StationIdentity(vendor="V", model="M"))
    assert booted.free_charging is True
    assert booted.registration_status == RegistrationStatus.ACCEPTED
    assert ChargingStation.objects.get(pk=station.pk).last_boot_at == booted.booted_at
    with pytest.raises(ChargingStation.DoesNotExist):
        station_boot(station_id=987654, identity=StationIdentity(vendor="V", model="M"))


def test_a_later_boot_stores_what_changed_and_keeps_what_did_not(station):
    station_boot(station_id=station.pk, identity=StationIdentity(vendor="ACME", model="X1"))
    first = ChargingStation.objects.get(pk=station.pk)
    station_boot(
        station_id=station.pk,
        identity=StationIdentity(vendor="ACME", model="X1", firmware_version="2.0"),
        reason="FirmwareUpdate",
    )
    stored = ChargingStation.objects.get(pk=station.pk)
    assert (stored.vendor, stored.model) == ("ACME", "X1")
    assert stored.firmware_version == "2.0"
    assert stored.last_boot_reason == "FirmwareUpdate"
    assert stored.last_boot_at > first.last_boot_at


def test_a_boot_of_an_unknown_station_raises():
    with pytest.raises(ChargingStation.DoesNotExist):
        station_boot(station_id=987654, identity=StationIdentity(vendor="V", model="M"))


def report(second: int, status: str = "Available") -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=1,
        status=status,
        timestamp=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC),
    )


def test_a_status_report_sent_again_is_kept_once_in_the_history(station):
    # The soak found it: a StatusNotification committed whose answer was lost (a killed
    # server, a commit whose acknowledgement PostgreSQL never sent) is sent again by the
    # charger, and the history had it twice.
    connector_status_update(station_id=station.pk, report=report(1))
    connector_status_update(station_id=station.pk, report=report(1))
    connector_status_update(station_id=station.pk, report=report(2, "Charging"))
    connector_status_update(station_id=station.pk, report=report(2, "Charging"))
    history = StatusEvent.objects.filter(station=station).order_by("timestamp")
    assert [(e.timestamp.second, e.status) for e in history] == [(1, "Available"), (2, "Charging")]


def test_distinct_status_reports_are_all_kept(station):
    connector_status_update(station_id=station.pk, report=report(1))
    connector_status_update(station_id=station.pk, report=report(2))  # same status, later
    connector_status_update(station_id=station.pk, report=report(1, "Faulted"))  # late, older
    untimed = ConnectorStatus(connector_id=1, status="Available")  # 1.6: timestamp optional
    connector_status_update(station_id=station.pk, report=untimed)
    connector_status_update(station_id=station.pk, report=untimed)
    assert StatusEvent.objects.filter(station=station).count() == 5
