"""Every CSMS → station command we send to OCPP 2.0.1 and 2.1 stations, over a real socket."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation, Connector
from apps.devicemodel.models import DeviceReport, DeviceVariable
from tests.commands.helpers import command
from tests.ocpp.charger import connect_charger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"]),
]

LATER = "2026-12-01T10:00:00.000Z"
TOKEN = {"idToken": "DRIVER", "type": "ISO14443"}
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}

# action → (payload, a reply that means "no", or None when the answer has no status)
COMMANDS = {
    "CancelReservation": ({"reservationId": 5}, {"status": "Rejected"}),
    "ChangeAvailability": (
        {"operationalStatus": "Inoperative", "evse": {"id": 1}},
        {"status": "Rejected"},
    ),
    "ClearCache": ({}, {"status": "Rejected"}),
    "DataTransfer": (
        {"vendorId": "com.acme", "messageId": "hello", "data": {"n": 1}},
        {"status": "UnknownVendorId"},
    ),
    "GetBaseReport": ({"requestId": 11, "reportBase": "FullInventory"}, {"status": "Rejected"}),
    "GetLocalListVersion": ({}, None),
    "GetLog": (
        {
            "logType": "DiagnosticsLog",
            "requestId": 3,
            "log": {"remoteLocation": "http://127.0.0.1/files/upload"},
        },
        {"status": "Rejected"},
    ),
    "GetReport": (
        {"requestId": 12, "componentVariable": [{"component": {"name": "EVSE"}}]},
        {"status": "Rejected"},
    ),
    "GetTransactionStatus": ({"transactionId": "TX-9"}, None),
    "GetVariables": ({"getVariableData": [HEARTBEAT]}, None),
    "RequestStartTransaction": (
        {"idToken": TOKEN, "remoteStartId": 77, "evseId": 1},
        {"status": "Rejected"},
    ),
    "RequestStopTransaction": ({"transactionId": "TX-9"}, {"status": "Rejected"}),
    "ReserveNow": (
        {"id": 5, "expiryDateTime": LATER, "idToken": TOKEN, "evseId": 1},
        {"status": "Occupied"},
    ),
    "Reset": ({"type": "OnIdle", "evseId": 1}, {"status": "Rejected"}),
    "SendLocalList": (
        {
            "versionNumber": 3,
            "updateType": "Full",
            "localAuthorizationList": [{"idToken": TOKEN, "idTokenInfo": {"status": "Accepted"}}],
        },
        {"status": "VersionMismatch"},
    ),
    "SetVariables": ({"setVariableData": [{**HEARTBEAT, "attributeValue": "60"}]}, None),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        {"status": "NotImplemented"},
    ),
    "UnlockConnector": ({"evseId": 1, "connectorId": 1}, {"status": "UnlockFailed"}),
    "UpdateFirmware": (
        {
            "requestId": 4,
            "firmware": {"location": "http://127.0.0.1/files/fw.bin", "retrieveDateTime": LATER},
        },
        {"status": "Rejected"},
    ),
}


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def snake(value):
    """camelCase → snake_case keys, as the ocpp library hands fields to its handlers."""
    if isinstance(value, dict):
        return {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in key): snake(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [snake(item) for item in value]
    return value


async def boot(cp, version: str) -> None:
    call = importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")
    await cp.call(
        call.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )


@pytest.mark.parametrize("action", sorted(COMMANDS))
async def test_each_command_is_delivered_and_answered(asgi_server, version, action):
    payload, _ = COMMANDS[action]
    charger_id = f"V2C-{action}"[:48]
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        done = await command(asgi_server, charger_id, action, payload)
    assert cp.received[action] == [snake(payload)]
    assert done.status == "accepted", (done.error_code, done.error_description)
    assert done.response is not None


@pytest.mark.parametrize("action", sorted(a for a, (_, no) in COMMANDS.items() if no))
async def test_each_refusal_is_kept(asgi_server, version, action):
    payload, refusal = COMMANDS[action]
    charger_id = f"V2R-{action}"[:48]
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        cp.replies[action] = snake(refusal)
        done = await command(asgi_server, charger_id, action, payload)
    assert done.status == "rejected"
    assert done.response["status"] == refusal["status"]


async def test_get_and_set_variables_fill_the_device_model(asgi_server, version):
    async with connect_charger(asgi_server.ws_url, "V2-VARS", version) as cp:
        await boot(cp, version)
        cp.replies["GetVariables"] = {
            "get_variable_result": [
                {"attribute_status": "Accepted", "attribute_value": "300", **snake(HEARTBEAT)},
                {
                    "attribute_status": "UnknownVariable",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "Nope"},
                },
            ]
        }
        await command(
            asgi_server,
            "V2-VARS",
            "GetVariables",
            {
                "getVariableData": [
                    HEARTBEAT,
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}},
                ]
            },
        )
        cp.replies["SetVariables"] = {
            "set_variable_result": [{"attribute_status": "RebootRequired", **snake(HEARTBEAT)}]
        }
        await command(
            asgi_server,
            "V2-VARS",
            "SetVariables",
            {"setVariableData": [{**HEARTBEAT, "attributeValue": "60"}]},
        )
    variables = await db(
        lambda: {
            v.variable: (v.value, v.last_status)
            for v in DeviceVariable.objects.filter(station__charger_id="V2-VARS")
        }
    )
    assert variables == {
        "HeartbeatInterval": ("60", "RebootRequired"),
        "Nope": (None, "UnknownVariable"),
    }


async def test_notify_report_after_get_base_report_is_stored(asgi_server, version):
    call = importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")
    async with connect_charger(asgi_server.ws_url, "V2-BASE", version) as cp:
        await boot(cp, version)
        done = await command(
            asgi_server,
            "V2-BASE",
            "GetBaseReport",
            {"requestId": 21, "reportBase": "ConfigurationInventory"},
        )
        assert done.status == "accepted"
        await cp.call(
            call.NotifyReport(
                request_id=21,
                generated_at=datetime.now(UTC).isoformat(),
                seq_no=0,
                tbc=False,
                report_data=[
                    {
                        "component": {"name": "EVSE", "evse": {"id": 1}},
                        "variable": {"name": "Power"},
                        "variable_attribute": [{"type": "MaxSet", "value": "22000"}],
                    }
                ],
            )
        )
    report = await db(DeviceReport.objects.get, station__charger_id="V2-BASE", request_id=21)
    assert report.complete
    power = await db(DeviceVariable.objects.get, station__charger_id="V2-BASE")
    assert (power.component, power.evse_id, power.variable, power.attribute_type, power.value) == (
        "EVSE",
        1,
        "Power",
        "MaxSet",
        "22000",
    )


async def test_change_availability_and_local_list_version_are_stored(asgi_server, version):
    async with connect_charger(asgi_server.ws_url, "V2-AV", version) as cp:
        await boot(cp, version)
        await command(
            asgi_server,
            "V2-AV",
            "ChangeAvailability",
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
        )
        cp.replies["GetLocalListVersion"] = {"version_number": 4}
        await command(asgi_server, "V2-AV", "GetLocalListVersion", {})
        await command(
            asgi_server,
            "V2-AV",
            "SendLocalList",
            {"versionNumber": 5, "updateType": "Differential"},
        )
    connector = await db(Connector.objects.get, station__charger_id="V2-AV", connector_id=2)
    assert connector.availability == "Inoperative"
    station = await db(ChargingStation.objects.get, charger_id="V2-AV")
    assert station.local_list_version == 5


async def test_an_answer_nested_too_deep_is_an_error_not_a_crash(asgi_server, version):
    """DataTransfer's `data` may be anything: a charger answering with one nested past the
    protocol's depth limit gets the command ended as an error (FormatViolation), as a CALL of
    that depth would be answered; nothing breaks on storing it."""
    charger_id = f"V2-DEEP-{version}"
    nested: object = "bottom"
    for _ in range(400):
        nested = [nested]
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        cp.replies["DataTransfer"] = {"status": "Accepted", "data": nested}
        done = await command(asgi_server, charger_id, "DataTransfer", {"vendorId": "V"})
        # The connection still serves: the next command is answered.
        cp.replies.pop("DataTransfer")
        after = await command(asgi_server, charger_id, "DataTransfer", {"vendorId": "V"})
    assert (done.status, done.error_code) == ("error", "FormatViolation")
    assert "nested deeper than" in done.error_description
    assert after.status == "accepted"
