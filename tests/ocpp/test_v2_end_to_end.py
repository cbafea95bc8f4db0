"""OCPP 2.0.1 and 2.1 charging stations, end to end over a real websocket.

The same suite runs for both versions: they share messages and handlers.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation, Connector, DataTransfer, RegistrationStatus
from apps.devicemodel.models import DeviceEvent, DeviceReport, DeviceVariable
from apps.ocpp.models import MessageLog
from apps.rfid.models import IdTag
from apps.security.models import SecurityEvent
from apps.transactions.models import MeterValue, Transaction, TransactionEvent
from tests.ocpp.charger import connect_charger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"]),
]

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def messages(version: str):
    """The `ocpp` library's call module of a version."""
    return importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


async def boot(cp, call) -> str:
    response = await cp.call(
        call.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )
    return response.status


def tx_event(call, event_type: str, seq_no: int, at: datetime, **fields):
    fields.setdefault("transaction_info", {"transaction_id": "TX-1"})
    fields.setdefault(
        "trigger_reason", "Authorized" if event_type == "Started" else "MeterValuePeriodic"
    )
    return call.TransactionEvent(event_type=event_type, timestamp=iso(at), seq_no=seq_no, **fields)


def energy(at: datetime, wh: float, context: str) -> dict:
    return {
        "timestamp": iso(at),
        "sampled_value": [
            {
                "value": wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        ],
    }


async def test_boot_stores_identity_reason_and_modem(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-BOOT", version) as cp:
        response = await cp.call(
            call.BootNotification(
                charging_station={
                    "model": "Wallbox",
                    "vendor_name": "Acme",
                    "serial_number": "SN-9",
                    "firmware_version": "2.0",
                    "modem": {"iccid": "8931", "imsi": "2221"},
                },
                reason="ScheduledReset",
            )
        )
        heartbeat = await cp.call(call.Heartbeat())
    assert response.status == "Accepted"
    assert heartbeat.current_time.endswith("Z")
    station = await db(ChargingStation.objects.get, charger_id="V2-BOOT")
    assert (station.vendor, station.model, station.serial_number, station.firmware_version) == (
        "Acme",
        "Wallbox",
        "SN-9",
        "2.0",
    )
    assert (station.iccid, station.imsi, station.last_boot_reason) == (
        "8931",
        "2221",
        "ScheduledReset",
    )
    assert station.ocpp_version == version
    assert station.last_heartbeat_at is not None


async def test_a_pending_station_is_told_so(asgi_server, version, settings):
    settings.OCPP_UNKNOWN_STATIONS = "pending"
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-PEND", version) as cp:
        assert await boot(cp, call) == "Pending"
        assert await cp.call(call.Heartbeat(), suppress=True) is None
    station = await db(ChargingStation.objects.get, charger_id="V2-PEND")
    assert station.registration_status == RegistrationStatus.PENDING


@pytest.mark.parametrize(
    ("token", "token_type", "status"),
    [
        ("CARD-1", "ISO14443", "Accepted"),
        ("CARD-1", "ISO15693", "Accepted"),
        ("EMAID-1", "eMAID", "Accepted"),
        ("BLOCKED", "Central", "Blocked"),
        ("1234", "KeyCode", "Accepted"),
        ("LOCAL-1", "Local", "Accepted"),
        ("00:11:22:33:44:55", "MacAddress", "Accepted"),
        ("", "NoAuthorization", "Accepted"),
        ("STRANGER", "ISO14443", "Invalid"),
    ],
)
async def test_authorize_answers_each_token_type(asgi_server, version, token, token_type, status):
    group = await db(IdTag.objects.create, id_tag="GROUP")
    for tag in ("CARD-1", "EMAID-1", "1234", "LOCAL-1", "00:11:22:33:44:55"):
        await db(IdTag.objects.create, id_tag=tag, parent=group)
    await db(IdTag.objects.create, id_tag="BLOCKED", status="Blocked")
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-AUTH", version) as cp:
        await boot(cp, call)
        response = await cp.call(call.Authorize(id_token={"id_token": token, "type": token_type}))
    assert response.id_token_info["status"] == status
    if status == "Accepted" and token_type != "NoAuthorization":
        assert response.id_token_info["group_id_token"]["id_token"] == "GROUP"


async def test_a_whole_transaction_event_session_is_stored(asgi_server, version):
    await db(IdTag.objects.create, id_tag="DRIVER")
    call = messages(version)
    token = {"id_token": "DRIVER", "type": "ISO14443"}
    async with connect_charger(asgi_server.ws_url, "V2-TX", version) as cp:
        await boot(cp, call)
        await cp.call(
            call.StatusNotification(
                timestamp=iso(T0), connector_status="Occupied", evse_id=1, connector_id=1
            )
        )
        started = await cp.call(
            tx_event(
                call,
                "Started",
                0,
                T0,
                id_token=token,
                evse={"id": 1, "connector_id": 1},
                transaction_info={"transaction_id": "TX-1", "charging_state": "EVConnected"},
                meter_value=[energy(T0, 1000, "Transaction.Begin")],
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        await cp.call(
            tx_event(
                call,
                "Updated",
                1,
                T0 + timedelta(minutes=5),
                trigger_reason="ChargingStateChanged",
                transaction_info={"transaction_id": "TX-1", "charging_state": "Charging"},
                meter_value=[
                    {
                        "timestamp": iso(T0 + timedelta(minutes=5)),
                        "sampled_value": [
                            {
                                "value": 7.2,
                                "measurand": "Power.Active.Import",
                                "context": "Sample.Periodic",
                                "unit_of_measure": {"unit": "kW"},
                            },
                            {
                                "value": 1.6,
                                "measurand": "Energy.Active.Import.Register",
                                "context": "Sample.Periodic",
                                "unit_of_measure": {"unit": "Wh", "multiplier": 3},
                            },
                        ],
                    }
                ],
            )
        )
        ended = await cp.call(
            tx_event(
                call,
                "Ended",
                2,
                T0 + timedelta(minutes=30),
                trigger_reason="EVCommunicationLost",
                id_token=token,
                transaction_info={
                    "transaction_id": "TX-1",
                    "charging_state": "Idle",
                    "stopped_reason": "EVDisconnected",
                },
                meter_value=[energy(T0 + timedelta(minutes=30), 4000, "Transaction.End")],
            )
        )
        assert ended.id_token_info["status"] == "Accepted"

    tx = await db(Transaction.objects.select_related("connector").get, transaction_id="TX-1")
    assert tx.connector.connector_id == 1 and tx.connector.evse_connector_id == 1
    assert tx.id_tag == "DRIVER"
    assert (tx.started_at, tx.stopped_at) == (T0, T0 + timedelta(minutes=30))
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (1000, 4000, 3000)
    assert (tx.stop_reason, tx.charging_state, tx.last_seq_no) == ("EVDisconnected", "Idle", 2)
    values = await db(
        lambda: {
            (m.measurand, m.context): (m.normalized_value, m.normalized_unit)
            for m in MeterValue.objects.filter(transaction=tx)
        }
    )
    assert values[("Power.Active.Import", "Sample.Periodic")] == (7200.0, "W")
    assert values[("Energy.Active.Import.Register", "Sample.Periodic")] == (1600.0, "Wh")
    assert values[("Energy.Active.Import.Register", "Transaction.End")] == (4000.0, "Wh")
    events = await db(
        lambda: list(
            TransactionEvent.objects.filter(transaction=tx).values_list("seq_no", "event_type")
        )
    )
    assert events == [(0, "Started"), (1, "Updated"), (2, "Ended")]


async def test_replayed_and_out_of_order_events_are_applied_once(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-REPLAY", version) as cp:
        await boot(cp, call)
        # Ended arrives before the Updated that was queued offline, and a gap stays (seq 2).
        await cp.call(
            tx_event(
                call,
                "Started",
                0,
                T0,
                transaction_info={"transaction_id": "TX-R", "charging_state": "Charging"},
            )
        )
        await cp.call(
            tx_event(
                call,
                "Ended",
                3,
                T0 + timedelta(minutes=9),
                transaction_info={
                    "transaction_id": "TX-R",
                    "charging_state": "Idle",
                    "stopped_reason": "Local",
                },
            )
        )
        late = tx_event(
            call,
            "Updated",
            1,
            T0 + timedelta(minutes=1),
            offline=True,
            transaction_info={"transaction_id": "TX-R", "charging_state": "SuspendedEV"},
            meter_value=[energy(T0 + timedelta(minutes=1), 50, "Sample.Periodic")],
        )
        await cp.call(late)
        await cp.call(late)  # replay after a lost answer
    tx = await db(Transaction.objects.get, transaction_id="TX-R")
    assert tx.stopped_at == T0 + timedelta(minutes=9)
    assert tx.charging_state == "Idle"  # the highest seqNo wins, not the latest arrival
    assert tx.offline
    assert await db(lambda: tx.seq_gaps) == [2]
    assert await db(TransactionEvent.objects.filter(transaction=tx).count) == 3
    assert await db(MeterValue.objects.filter(transaction=tx).count) == 1
    assert await db(Transaction.objects.filter(transaction_id="TX-R").count) == 1


async def test_remote_start_id_is_kept(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-REMOTE", version) as cp:
        await boot(cp, call)
        await cp.call(
            tx_event(
                call,
                "Started",
                0,
                T0,
                trigger_reason="RemoteStart",
                transaction_info={"transaction_id": "TX-RS", "remote_start_id": 42},
            )
        )
    tx = await db(Transaction.objects.get, transaction_id="TX-RS")
    assert tx.remote_start_id == 42


async def test_status_and_meter_values_map_onto_evse_connectors(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-EVSE", version) as cp:
        await boot(cp, call)
        await cp.call(
            call.StatusNotification(
                timestamp=iso(T0), connector_status="Faulted", evse_id=2, connector_id=1
            )
        )
        await cp.call(
            call.MeterValues(
                evse_id=2,
                meter_value=[
                    {
                        "timestamp": iso(T0),
                        "sampled_value": [
                            {
                                "value": 230.1,
                                "measurand": "Voltage",
                                "phase": "L1-N",
                                "unit_of_measure": {"unit": "V"},
                            }
                        ],
                    }
                ],
            )
        )
    connector = await db(Connector.objects.get, station__charger_id="V2-EVSE", connector_id=2)
    assert (connector.status, connector.evse_connector_id) == ("Faulted", 1)
    value = await db(MeterValue.objects.get, station__charger_id="V2-EVSE")
    assert (value.connector_id, value.phase, value.normalized_value) == (2, "L1-N", 230.1)


async def test_reports_events_and_notifications_are_stored(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-NOTE", version) as cp:
        await boot(cp, call)
        await cp.call(
            call.SecurityEventNotification(
                type="TamperDetectionActivated", timestamp=iso(T0), tech_info="lid open"
            )
        )
        await cp.call(
            call.NotifyEvent(
                generated_at=iso(T0),
                seq_no=0,
                event_data=[
                    {
                        "event_id": 7,
                        "timestamp": iso(T0),
                        "trigger": "Alerting",
                        "actual_value": "true",
                        "event_notification_type": "HardWiredNotification",
                        "tech_code": "E12",
                        "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
                        "variable": {"name": "Problem"},
                    }
                ],
            )
        )
        await cp.call(call.FirmwareStatusNotification(status="Downloaded"))
        await cp.call(call.LogStatusNotification(status="Uploading", request_id=1))
        data = await cp.call(call.DataTransfer(vendor_id="com.unknown", data={"k": [1, 2]}))
        assert data.status == "UnknownVendorId"
    event = await db(SecurityEvent.objects.get, charger_id="V2-NOTE")
    assert (event.source, event.event_type, event.tech_info) == (
        "station",
        "TamperDetectionActivated",
        "lid open",
    )
    device_event = await db(DeviceEvent.objects.get, station__charger_id="V2-NOTE")
    assert (
        device_event.event_id,
        device_event.component,
        device_event.variable,
        device_event.tech_code,
    ) == (7, "Connector", "Problem", "E12")
    station = await db(ChargingStation.objects.get, charger_id="V2-NOTE")
    assert (station.firmware_status, station.diagnostics_status) == ("Downloaded", "Uploading")
    transfer = await db(DataTransfer.objects.get, station=station)
    assert transfer.data == '{"k":[1,2]}'


async def test_a_multi_part_report_is_assembled(asgi_server, version):
    call = messages(version)
    part = lambda name, value: {  # noqa: E731
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": name},
        "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
        "variable_characteristics": {
            "data_type": "integer",
            "supports_monitoring": False,
            "unit": "s",
        },
    }
    async with connect_charger(asgi_server.ws_url, "V2-REPORT", version) as cp:
        await boot(cp, call)
        await cp.call(
            call.NotifyReport(
                request_id=5,
                generated_at=iso(T0),
                seq_no=1,
                tbc=False,
                report_data=[part("HeartbeatInterval", "60")],
            )
        )
        report = await db(DeviceReport.objects.get, station__charger_id="V2-REPORT")
        assert not report.complete  # part 0 has not arrived yet
        await cp.call(
            call.NotifyReport(
                request_id=5,
                generated_at=iso(T0),
                seq_no=0,
                tbc=True,
                report_data=[part("MessageTimeout", "30")],
            )
        )
    report = await db(DeviceReport.objects.get, station__charger_id="V2-REPORT")
    assert report.complete and report.last_seq_no == 1
    variables = await db(
        lambda: {
            v.variable: (v.value, v.mutability, v.unit, v.data_type)
            for v in DeviceVariable.objects.filter(station__charger_id="V2-REPORT")
        }
    )
    assert variables == {
        "HeartbeatInterval": ("60", "ReadWrite", "s", "integer"),
        "MessageTimeout": ("30", "ReadWrite", "s", "integer"),
    }


async def test_known_actions_we_do_not_handle_get_not_supported(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, "V2-NS", version) as cp:
        await boot(cp, call)
        answer = await cp.call(
            call.NotifyEVChargingNeeds(
                evse_id=1, charging_needs={"requested_energy_transfer": "DC"}
            ),
            suppress=True,
        )
    assert answer is None
    frame = await db(
        lambda: (
            MessageLog.objects.filter(
                charger_id="V2-NS", direction="out", action="NotifyEVChargingNeeds"
            )
            .get()
            .frame
        )
    )
    assert '"NotSupported"' in frame
