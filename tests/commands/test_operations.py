"""Version-neutral operations pick the right action and payload for each OCPP version."""

from __future__ import annotations

import asyncio
import importlib

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call as v16_call
from rest_framework.authtoken.models import Token

from apps.chargers.models import ChargingStation
from apps.commands.registry import run_operation
from apps.commands.services import CommandError
from apps.devicemodel.operations import component_variable
from apps.devicemodel.selectors import station_configuration
from apps.transactions.models import Transaction
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

# operation, arguments → (1.6 action, fields the 1.6 charger gets), (2.x action, fields)
CASES = {
    "remote_start": (
        {"id_tag": "DRIVER", "connector_id": 2},
        ("RemoteStartTransaction", {"id_tag": "DRIVER", "connector_id": 2}),
        ("RequestStartTransaction", {"evse_id": 2}),
    ),
    "remote_stop": (
        {"transaction_id": "1234"},
        ("RemoteStopTransaction", {"transaction_id": 1234}),
        ("RequestStopTransaction", {"transaction_id": "1234"}),
    ),
    "change_availability": (
        {"connector_id": 1, "operative": False},
        ("ChangeAvailability", {"connector_id": 1, "type": "Inoperative"}),
        ("ChangeAvailability", {"operational_status": "Inoperative", "evse": {"id": 1}}),
    ),
    "reset": (
        {"hard": True},
        ("Reset", {"type": "Hard"}),
        ("Reset", {"type": "Immediate"}),
    ),
    "unlock": (
        {"connector_id": 1},
        ("UnlockConnector", {"connector_id": 1}),
        ("UnlockConnector", {"evse_id": 1, "connector_id": 1}),
    ),
    "set_configuration": (
        {"key": "HeartbeatInterval", "value": "60"},
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
        (
            "SetVariables",
            {
                "set_variable_data": [
                    {
                        "attribute_value": "60",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
    ),
    "get_configuration": (
        {"keys": ["HeartbeatInterval"]},
        ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
        (
            "GetVariables",
            {
                "get_variable_data": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
    ),
}


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


async def boot(cp, version: str) -> None:
    if version == "ocpp1.6":
        await cp.call(v16_call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        return
    module = "v201" if version == "ocpp2.0.1" else "v21"
    call = importlib.import_module(f"ocpp.{module}.call")
    await cp.call(
        call.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize("operation", sorted(CASES))
async def test_each_operation_sends_the_version_s_action(asgi_server, version, operation):
    arguments, v16, v2 = CASES[operation]
    action, expected = v16 if version == "ocpp1.6" else v2
    charger_id = f"OP-{operation}-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        station = await sync_to_async(ChargingStation.objects.get)(charger_id=charger_id)
        sent = await asgi_server.run(
            run_operation, station=station, operation=operation, arguments=arguments
        )
        done = await wait_final(sent.pk)
    assert done.action == action
    assert done.status == "accepted", (done.error_code, done.error_description)
    received = cp.received[action][0]
    assert {key: received[key] for key in expected} == expected


async def test_remote_start_on_2x_is_linked_to_the_session_it_starts(asgi_server):
    call = importlib.import_module("ocpp.v201.call")
    async with connect_charger(asgi_server.ws_url, "OP-LINK", "ocpp2.0.1") as cp:
        await boot(cp, "ocpp2.0.1")
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="OP-LINK")
        sent = await asgi_server.run(
            run_operation, station=station, operation="remote_start", arguments={"id_tag": "DRIVER"}
        )
        await wait_final(sent.pk)
        remote_start_id = cp.received["RequestStartTransaction"][0]["remote_start_id"]
        await cp.call(
            call.TransactionEvent(
                event_type="Started",
                timestamp="2026-11-27T10:00:00Z",
                seq_no=0,
                trigger_reason="RemoteStart",
                transaction_info={"transaction_id": "TX-OP", "remote_start_id": remote_start_id},
                id_token={"id_token": "DRIVER", "type": "Central"},
            )
        )
    assert sent.payload["remoteStartId"] == remote_start_id
    tx = await sync_to_async(Transaction.objects.get)(transaction_id="TX-OP")
    assert tx.remote_start_id == remote_start_id


def test_bad_operations_are_refused_clearly(db):
    station = ChargingStation.objects.create(charger_id="OP-BAD", ocpp_version="ocpp2.0.1")
    with pytest.raises(CommandError, match="unknown operation"):
        run_operation(station=station, operation="explode", arguments={})
    with pytest.raises(CommandError, match="reset"):
        run_operation(station=station, operation="reset", arguments={"sideways": True})
    with pytest.raises(CommandError, match="Component/Variable"):
        run_operation(
            station=station,
            operation="set_configuration",
            arguments={"key": "no slash here", "value": "1"},
        )


def test_configuration_keys_parse_into_components_and_variables():
    assert component_variable("SampledDataCtrlr[main]@2.1/TxUpdatedInterval[x]") == {
        "component": {
            "name": "SampledDataCtrlr",
            "instance": "main",
            "evse": {"id": 2, "connectorId": 1},
        },
        "variable": {"name": "TxUpdatedInterval", "instance": "x"},
    }
    assert component_variable("MeterValueSampleInterval") == {
        "component": {"name": "SampledDataCtrlr"},
        "variable": {"name": "TxUpdatedInterval"},
    }


async def test_the_api_runs_operations_and_lists_configuration_of_both_kinds(asgi_server):
    def make_user() -> str:
        user = get_user_model().objects.create_superuser("ops", password="pw-123456")
        return Token.objects.create(user=user).key

    token = await sync_to_async(make_user)()
    headers = {"Authorization": f"Token {token}"}
    async with connect_charger(asgi_server.ws_url, "OP-API", "ocpp2.1") as cp:
        await boot(cp, "ocpp2.1")
        response = await asyncio.to_thread(
            requests.post,
            f"{asgi_server.http_url}/api/commands/operations/?wait=10",
            json={
                "charger": "OP-API",
                "operation": "set_configuration",
                "arguments": {"key": "HeartbeatInterval", "value": "90"},
            },
            headers=headers,
            timeout=20,
        )
        assert response.status_code == 201, response.text
        assert response.json()["action"] == "SetVariables"
        assert response.json()["status"] == "accepted"
        bad = await asyncio.to_thread(
            requests.post,
            f"{asgi_server.http_url}/api/commands/operations/",
            json={"charger": "OP-API", "operation": "reset", "arguments": {"when": "now"}},
            headers=headers,
            timeout=20,
        )
        assert bad.status_code == 400 and "reset" in bad.json()["detail"]
    listed = await asyncio.to_thread(
        requests.get,
        f"{asgi_server.http_url}/api/chargers/OP-API/configuration/",
        headers=headers,
        timeout=20,
    )
    assert listed.status_code == 200
    assert {(e["key"], e["value"], e["source"]) for e in listed.json()} == {
        ("OCPPCommCtrlr/HeartbeatInterval", "90", "2.x variable")
    }
    station = await sync_to_async(ChargingStation.objects.get)(charger_id="OP-API")
    entries = await sync_to_async(station_configuration)(station=station)
    assert [entry.status for entry in entries] == ["Accepted"]
