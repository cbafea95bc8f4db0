"""Every OCPP 1.6 charge point action, end to end over a real websocket, asserting storage."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import (
    ChargingStation,
    Connector,
    DataTransfer,
    RegistrationStatus,
    StationReport,
    StatusEvent,
)
from apps.chargers.services import station_set_registration
from apps.ocpp.models import MessageLog
from apps.rfid.models import IdTag
from apps.transactions.models import MeterValue, Transaction
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

OCPP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def boot(cp) -> str:
    response = await cp.call(
        call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
    )
    return response.status


@pytest.fixture
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


class TestBootNotification:
    async def test_it_records_an_unknown_station_as_pending(self, asgi_server, settings):
        settings.OCPP_UNKNOWN_STATIONS = "pending"
        settings.OCPP_BOOT_RETRY_INTERVAL = 42
        async with connect_v16(asgi_server.ws_url, "NEW-1") as cp:
            response = await cp.call(
                call.BootNotification(
                    charge_point_model="Wallbox",
                    charge_point_vendor="Acme",
                    charge_point_serial_number="SN-1",
                    charge_box_serial_number="CB-1",
                    firmware_version="1.2.3",
                    iccid="8931440000000000001",
                    imsi="222100000000001",
                    meter_type="Eastron SDM630",
                    meter_serial_number="M-77",
                )
            )
        assert response.status == "Pending"
        assert response.interval == 42
        assert OCPP_TIME.match(response.current_time)
        station = await db(ChargingStation.objects.get, charger_id="NEW-1")
        assert station.registration_status == RegistrationStatus.PENDING
        assert (station.vendor, station.model) == ("Acme", "Wallbox")
        assert station.serial_number == "SN-1"
        assert station.charge_box_serial_number == "CB-1"
        assert station.firmware_version == "1.2.3"
        assert station.iccid == "8931440000000000001"
        assert station.imsi == "222100000000001"
        assert station.meter_type == "Eastron SDM630"
        assert station.meter_serial_number == "M-77"
        assert station.last_boot_at is not None
        assert station.ocpp_version == "ocpp1.6"

    async def test_it_accepts_after_the_operator_approves(self, asgi_server, settings):
        settings.OCPP_UNKNOWN_STATIONS = "pending"
        settings.OCPP_HEARTBEAT_INTERVAL = 123
        async with connect_v16(asgi_server.ws_url, "APPROVE-1") as cp:
            assert await boot(cp) == "Pending"
            station = await db(ChargingStation.objects.get, charger_id="APPROVE-1")
            await db(station_set_registration, station=station, status="Accepted")
            response = await cp.call(
                call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
            )
            assert response.status == "Accepted"
            assert response.interval == 123
            # Accepted now: other messages are served on the same connection.
            heartbeat = await cp.call(call.Heartbeat())
            assert OCPP_TIME.match(heartbeat.current_time)

    async def test_it_rejects_unknown_stations_when_set_to(self, asgi_server, settings):
        settings.OCPP_UNKNOWN_STATIONS = "reject"
        async with connect_v16(asgi_server.ws_url, "REJ-1") as cp:
            assert await boot(cp) == "Rejected"
        station = await db(ChargingStation.objects.get, charger_id="REJ-1")
        assert station.registration_status == RegistrationStatus.REJECTED

    async def test_a_pending_station_gets_security_error_for_other_messages(
        self, asgi_server, settings
    ):
        settings.OCPP_UNKNOWN_STATIONS = "pending"
        async with connect_v16(asgi_server.ws_url, "PEND-2") as cp:
            await boot(cp)
            error = await cp.call(call.Heartbeat(), suppress=True)
        assert error is None  # the library suppresses the CALLERROR and returns None
        logged = await db(
            lambda: list(
                MessageLog.objects.filter(charger_id="PEND-2", direction="out").values_list(
                    "frame", flat=True
                )
            )
        )
        assert any('"SecurityError"' in frame for frame in logged)


class TestHeartbeat:
    async def test_it_answers_utc_time_and_records_it(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "HB-1") as cp:
            await boot(cp)
            response = await cp.call(call.Heartbeat())
        assert OCPP_TIME.match(response.current_time)
        sent = datetime.fromisoformat(response.current_time)
        assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)
        station = await db(ChargingStation.objects.get, charger_id="HB-1")
        assert station.last_heartbeat_at is not None
        assert station.last_seen_at is not None


class TestAuthorize:
    @pytest.fixture
    def tags(self, transactional_db):
        group = IdTag.objects.create(id_tag="GROUP-1")
        IdTag.objects.create(id_tag="OK-1", parent=group)
        IdTag.objects.create(id_tag="BLOCKED-1", status="Blocked")
        IdTag.objects.create(id_tag="OLD-1", expiry_date=datetime(2020, 1, 1, tzinfo=UTC))
        IdTag.objects.create(id_tag="FUTURE-1", expiry_date=datetime(2099, 1, 1, tzinfo=UTC))
        blocked_group = IdTag.objects.create(id_tag="GROUP-X", status="Blocked")
        IdTag.objects.create(id_tag="MEMBER-X", parent=blocked_group)

    @pytest.mark.parametrize(
        ("id_tag", "status"),
        [
            ("OK-1", "Accepted"),
            ("BLOCKED-1", "Blocked"),
            ("OLD-1", "Expired"),
            ("FUTURE-1", "Accepted"),
            ("MEMBER-X", "Blocked"),
            ("NOBODY", "Invalid"),
        ],
    )
    async def test_it_answers_the_tag_status(self, asgi_server, accept_all, tags, id_tag, status):
        async with connect_v16(asgi_server.ws_url, "AUTH-1") as cp:
            await boot(cp)
            response = await cp.call(call.Authorize(id_tag=id_tag))
        assert response.id_tag_info["status"] == status

    async def test_it_reports_parent_and_expiry(self, asgi_server, accept_all, tags):
        async with connect_v16(asgi_server.ws_url, "AUTH-2") as cp:
            await boot(cp)
            child = await cp.call(call.Authorize(id_tag="OK-1"))
            future = await cp.call(call.Authorize(id_tag="FUTURE-1"))
        assert child.id_tag_info["parent_id_tag"] == "GROUP-1"
        assert future.id_tag_info["expiry_date"] == "2099-01-01T00:00:00.000Z"

    async def test_free_charging_accepts_unknown_tags(self, asgi_server, accept_all):
        await db(
            ChargingStation.objects.create,
            charger_id="FREE-1",
            registration_status="Accepted",
            free_charging=True,
        )
        async with connect_v16(asgi_server.ws_url, "FREE-1") as cp:
            # Already accepted: no BootNotification needed after a reconnect.
            response = await cp.call(call.Authorize(id_tag="ANYONE"))
        assert response.id_tag_info["status"] == "Accepted"


class TestChargingSession:
    async def test_a_whole_session_is_stored(self, asgi_server, accept_all):
        await db(IdTag.objects.create, id_tag="DRIVER-1")
        async with connect_v16(asgi_server.ws_url, "SESSION-1") as cp:
            assert await boot(cp) == "Accepted"
            for connector in (0, 1):
                await cp.call(
                    call.StatusNotification(
                        connector_id=connector,
                        error_code="NoError",
                        status="Available",
                        # Before T0: a status without a time is stamped now, and would be
                        # newer than the Preparing below once the clock passes T0.
                        timestamp=iso(T0 - timedelta(minutes=1)),
                    )
                )
            auth = await cp.call(call.Authorize(id_tag="DRIVER-1"))
            assert auth.id_tag_info["status"] == "Accepted"
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Preparing", timestamp=iso(T0)
                )
            )
            start = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="DRIVER-1", meter_start=1000, timestamp=iso(T0)
                )
            )
            assert start.id_tag_info["status"] == "Accepted"
            tx_id = start.transaction_id
            assert 0 < tx_id < 2**31
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx_id,
                    meter_value=[
                        {
                            "timestamp": iso(T0 + timedelta(minutes=5)),
                            "sampledValue": [
                                {
                                    "value": "1.75",
                                    "unit": "kWh",
                                    "context": "Sample.Periodic",
                                    "measurand": "Energy.Active.Import.Register",
                                    "location": "Outlet",
                                    "format": "Raw",
                                },
                                {
                                    "value": "7.2",
                                    "unit": "kW",
                                    "measurand": "Power.Active.Import",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": "16.1",
                                    "unit": "A",
                                    "measurand": "Current.Import",
                                    "phase": "L1",
                                    "context": "Sample.Periodic",
                                },
                                {
                                    "value": "230.5",
                                    "measurand": "Voltage",
                                    "phase": "L1-N",
                                    "context": "Sample.Periodic",
                                },
                            ],
                        }
                    ],
                )
            )
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=3500,
                    timestamp=iso(T0 + timedelta(minutes=20)),
                    transaction_id=tx_id,
                    reason="EVDisconnected",
                    id_tag="DRIVER-1",
                    transaction_data=[
                        {
                            "timestamp": iso(T0 + timedelta(minutes=20)),
                            "sampledValue": [{"value": "3500", "context": "Transaction.End"}],
                        }
                    ],
                )
            )
            assert stop.id_tag_info["status"] == "Accepted"

        tx = await db(
            Transaction.objects.select_related("connector", "id_tag_ref").get,
            transaction_id=str(tx_id),
        )
        assert tx.connector.connector_id == 1
        assert tx.id_tag == "DRIVER-1" and tx.id_tag_ref.id_tag == "DRIVER-1"
        assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 3500, 2500)
        assert tx.started_at == T0
        assert tx.stopped_at == T0 + timedelta(minutes=20)
        assert tx.stop_reason == "EVDisconnected"
        assert tx.stop_id_tag == "DRIVER-1"

        values = await db(
            lambda: {
                mv.measurand + ":" + mv.context: mv
                for mv in MeterValue.objects.filter(transaction=tx)
            }
        )
        energy = values["Energy.Active.Import.Register:Sample.Periodic"]
        assert (energy.value, energy.unit, energy.location, energy.format) == (
            "1.75",
            "kWh",
            "Outlet",
            "Raw",
        )
        assert (energy.normalized_value, energy.normalized_unit) == (1750.0, "Wh")
        power = values["Power.Active.Import:Sample.Periodic"]
        assert (power.normalized_value, power.normalized_unit) == (7200.0, "W")
        current = values["Current.Import:Sample.Periodic"]
        assert current.phase == "L1" and current.normalized_unit == "A"
        voltage = values["Voltage:Sample.Periodic"]
        assert voltage.phase == "L1-N" and voltage.normalized_unit == "V"
        end = values["Energy.Active.Import.Register:Transaction.End"]
        assert (end.normalized_value, end.normalized_unit) == (3500.0, "Wh")
        assert len(values) == 5

        connectors = await db(
            lambda: {
                c.connector_id: c.status
                for c in Connector.objects.filter(station__charger_id="SESSION-1")
            }
        )
        assert connectors == {0: "Available", 1: "Preparing"}

    async def test_replayed_start_gets_the_same_transaction(self, asgi_server, accept_all):
        await db(IdTag.objects.create, id_tag="DRIVER-2")
        message = call.StartTransaction(
            connector_id=1, id_tag="DRIVER-2", meter_start=10, timestamp=iso(T0)
        )
        async with connect_v16(asgi_server.ws_url, "REPLAY-1") as cp:
            await boot(cp)
            first = await cp.call(message)
        # The station reconnects without having seen the answer and sends it again.
        async with connect_v16(asgi_server.ws_url, "REPLAY-1") as cp:
            second = await cp.call(message)
        assert first.transaction_id == second.transaction_id
        assert second.id_tag_info["status"] == "Accepted"
        assert await db(Transaction.objects.filter(station__charger_id="REPLAY-1").count) == 1

    async def test_a_second_stop_changes_nothing(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "STOP2-1") as cp:
            await boot(cp)
            start = await cp.call(
                call.StartTransaction(connector_id=1, id_tag="X", meter_start=0, timestamp=iso(T0))
            )
            await cp.call(
                call.StopTransaction(
                    meter_stop=500,
                    timestamp=iso(T0 + timedelta(minutes=1)),
                    transaction_id=start.transaction_id,
                    reason="Local",
                )
            )
            again = await cp.call(
                call.StopTransaction(
                    meter_stop=999,
                    timestamp=iso(T0 + timedelta(minutes=9)),
                    transaction_id=start.transaction_id,
                    reason="Remote",
                )
            )
        assert again is not None
        tx = await db(Transaction.objects.get, transaction_id=str(start.transaction_id))
        assert (tx.meter_stop_wh, tx.stop_reason) == (500, "Local")
        assert tx.stopped_at == T0 + timedelta(minutes=1)

    async def test_replayed_meter_values_are_stored_once(self, asgi_server, accept_all):
        message = call.MeterValues(
            connector_id=2,
            meter_value=[{"timestamp": iso(T0), "sampledValue": [{"value": "42", "unit": "Wh"}]}],
        )
        async with connect_v16(asgi_server.ws_url, "MV-1") as cp:
            await boot(cp)
            await cp.call(message)
            await cp.call(message)
        rows = await db(lambda: list(MeterValue.objects.filter(station__charger_id="MV-1")))
        assert len(rows) == 1
        assert rows[0].transaction_id is None and rows[0].connector_id == 2

    async def test_a_tag_already_charging_gets_concurrent_tx(self, asgi_server, accept_all):
        await db(IdTag.objects.create, id_tag="BUSY-1")
        async with connect_v16(asgi_server.ws_url, "CONC-1") as cp:
            await boot(cp)
            first = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="BUSY-1", meter_start=0, timestamp=iso(T0)
                )
            )
            second = await cp.call(
                call.StartTransaction(
                    connector_id=2,
                    id_tag="BUSY-1",
                    meter_start=0,
                    timestamp=iso(T0 + timedelta(seconds=5)),
                )
            )
        assert first.id_tag_info["status"] == "Accepted"
        assert second.id_tag_info["status"] == "ConcurrentTx"
        # Stored all the same: the station has started charging already.
        assert await db(Transaction.objects.filter(station__charger_id="CONC-1").count) == 2

    async def test_an_unknown_tag_is_invalid_but_the_session_is_kept(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "INV-1") as cp:
            await boot(cp)
            start = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="STRANGER", meter_start=0, timestamp=iso(T0)
                )
            )
        assert start.id_tag_info["status"] == "Invalid"
        tx = await db(Transaction.objects.get, transaction_id=str(start.transaction_id))
        assert tx.authorization_status == "Invalid"

    async def test_transaction_ids_are_not_sequential(self, asgi_server, accept_all):
        ids = []
        async with connect_v16(asgi_server.ws_url, "SEQ-1") as cp:
            await boot(cp)
            for n in range(6):
                start = await cp.call(
                    call.StartTransaction(
                        connector_id=1,
                        id_tag=f"T{n}",
                        meter_start=n,
                        timestamp=iso(T0 + timedelta(minutes=n)),
                    )
                )
                ids.append(start.transaction_id)
        assert len(set(ids)) == 6
        assert all(0 < i < 2**31 for i in ids)
        steps = {b - a for a, b in itertools.pairwise(ids)}
        assert steps != {1}


class TestStatusNotification:
    async def test_every_field_and_connector_zero_are_kept(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "STAT-1") as cp:
            await boot(cp)
            await cp.call(
                call.StatusNotification(connector_id=0, error_code="NoError", status="Available")
            )
            await cp.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code="GroundFailure",
                    status="Faulted",
                    info="RCD tripped",
                    vendor_id="Acme",
                    vendor_error_code="E-17",
                    timestamp=iso(T0),
                )
            )
            # An older report arriving late is kept in the history only.
            await cp.call(
                call.StatusNotification(
                    connector_id=1,
                    error_code="NoError",
                    status="Available",
                    timestamp=iso(T0 - timedelta(minutes=1)),
                )
            )
        faulted = await db(Connector.objects.get, station__charger_id="STAT-1", connector_id=1)
        assert (faulted.status, faulted.error_code, faulted.info) == (
            "Faulted",
            "GroundFailure",
            "RCD tripped",
        )
        assert (faulted.vendor_id, faulted.vendor_error_code) == ("Acme", "E-17")
        assert faulted.status_at == T0
        station_level = await db(
            Connector.objects.get, station__charger_id="STAT-1", connector_id=0
        )
        assert station_level.status == "Available"
        assert await db(StatusEvent.objects.filter(station__charger_id="STAT-1").count) == 3


class TestReports:
    async def test_firmware_and_diagnostics_progress_is_kept(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "REP-1") as cp:
            await boot(cp)
            await cp.call(call.FirmwareStatusNotification(status="Downloading"))
            await cp.call(call.FirmwareStatusNotification(status="Installed"))
            await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        station = await db(ChargingStation.objects.get, charger_id="REP-1")
        assert station.firmware_status == "Installed"
        assert station.diagnostics_status == "Uploaded"
        kinds = await db(
            lambda: list(
                StationReport.objects.filter(station=station)
                .order_by("id")
                .values_list("kind", "status")
            )
        )
        assert kinds == [
            ("firmware", "Downloading"),
            ("firmware", "Installed"),
            ("diagnostics", "Uploaded"),
        ]

    async def test_data_transfer_is_kept_and_unknown_vendors_named(
        self, asgi_server, accept_all, settings
    ):
        settings.OCPP_DATA_TRANSFER_VENDORS = ["com.acme"]
        async with connect_v16(asgi_server.ws_url, "DT-1") as cp:
            await boot(cp)
            known = await cp.call(
                call.DataTransfer(vendor_id="com.acme", message_id="hello", data='{"a": 1}')
            )
            unknown = await cp.call(call.DataTransfer(vendor_id="com.other", data="x"))
        assert known.status == "Accepted"
        assert unknown.status == "UnknownVendorId"
        rows = await db(
            lambda: list(
                DataTransfer.objects.filter(station__charger_id="DT-1")
                .order_by("id")
                .values_list("vendor_id", "message_id", "data", "status")
            )
        )
        assert rows == [
            ("com.acme", "hello", '{"a": 1}', "Accepted"),
            ("com.other", "", "x", "UnknownVendorId"),
        ]


class TestMessageLog:
    async def test_every_frame_in_and_out_is_logged(self, asgi_server, accept_all):
        async with connect_v16(asgi_server.ws_url, "LOG-1") as cp:
            await boot(cp)
            await cp.call(call.Heartbeat())
        rows = await db(
            lambda: list(
                MessageLog.objects.filter(charger_id="LOG-1")
                .order_by("created_at", "id")
                .values_list("direction", "message_type", "action")
            )
        )
        assert rows == [
            ("in", 2, "BootNotification"),
            ("out", 3, "BootNotification"),
            ("in", 2, "Heartbeat"),
            ("out", 3, "Heartbeat"),
        ]


async def test_connections_mark_the_station_online_and_offline(asgi_server, accept_all):
    async with connect_v16(asgi_server.ws_url, "ONLINE-1") as cp:
        await boot(cp)
        station = await db(ChargingStation.objects.get, charger_id="ONLINE-1")
        assert station.is_connected
    # The server processes the close after the client has left; wait on that state.
    for _ in range(200):
        station = await db(ChargingStation.objects.get, charger_id="ONLINE-1")
        if not station.is_connected:
            break
        await asyncio.sleep(0.01)
    assert not station.is_connected
    assert station.disconnected_at is not None
