"""Every OCPP 1.6 central system command, end to end over a real websocket."""

from __future__ import annotations

import itertools

import pytest
from asgiref.sync import sync_to_async
from ocpp.exceptions import FormationViolationError, FormatViolationError, NotSupportedError
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, ConfigurationKey, Connector, DataTransfer
from apps.commands.models import ChargerCommand
from apps.commands.services import CommandError, send_command
from apps.ocpp.models import MessageLog
from tests.commands.helpers import command, wait_final
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


async def booted(cp) -> None:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


# action → (payload we send, what the charger must have received, snake_case)
SIMPLE = {
    "ClearCache": ({}, {}),
    "RemoteStartTransaction": (
        {"idTag": "DRIVER", "connectorId": 1},
        {"id_tag": "DRIVER", "connector_id": 1},
    ),
    "RemoteStopTransaction": ({"transactionId": 1234}, {"transaction_id": 1234}),
    "Reset": ({"type": "Soft"}, {"type": "Soft"}),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"requested_message": "StatusNotification", "connector_id": 1},
    ),
    "UnlockConnector": ({"connectorId": 2}, {"connector_id": 2}),
}


@pytest.mark.parametrize("action", sorted(SIMPLE))
async def test_simple_commands_reach_the_charger_and_store_the_answer(asgi_server, action):
    payload, expected = SIMPLE[action]
    async with connect_v16(asgi_server.ws_url, f"CMD-{action}") as cp:
        await booted(cp)
        done = await command(asgi_server, f"CMD-{action}", action, payload)
    assert cp.received[action] == [expected]
    assert done.status == "accepted"
    assert done.response is not None
    assert done.sent_at is not None and done.completed_at is not None
    frames = await db(
        lambda: list(
            MessageLog.objects.filter(charger_id=f"CMD-{action}", action=action)
            .order_by("created_at", "id")
            .values_list("direction", "message_type")
        )
    )
    assert frames == [("out", 2), ("in", 3)]


async def test_remote_start_carries_a_charging_profile(asgi_server):
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    }
    async with connect_v16(asgi_server.ws_url, "CMD-RS") as cp:
        await booted(cp)
        done = await command(
            asgi_server,
            "CMD-RS",
            "RemoteStartTransaction",
            {"idTag": "D", "chargingProfile": profile},
        )
    assert done.status == "accepted"
    assert cp.received["RemoteStartTransaction"][0]["charging_profile"]["stack_level"] == 0


async def test_a_rejected_answer_is_kept(asgi_server):
    async with connect_v16(asgi_server.ws_url, "CMD-REJ") as cp:
        await booted(cp)
        cp.replies["Reset"] = {"status": "Rejected"}
        done = await command(asgi_server, "CMD-REJ", "Reset", {"type": "Hard"})
    assert done.status == "rejected"
    assert done.response == {"status": "Rejected"}


async def test_a_callerror_is_kept_with_its_code(asgi_server):
    async with connect_v16(asgi_server.ws_url, "CMD-ERR") as cp:
        await booted(cp)
        cp.replies["ClearCache"] = NotSupportedError(description="no cache here")
        done = await command(asgi_server, "CMD-ERR", "ClearCache", {})
    assert done.status == "error"
    assert done.error_code == "NotSupported"
    assert "no cache here" in done.error_description


@pytest.mark.parametrize("error", [FormationViolationError, FormatViolationError])
async def test_a_format_violation_is_kept_in_either_spelling(asgi_server, error):
    # OCPP-J 1.6 names it FormationViolation; many 1.6 chargers send 2.x's FormatViolation.
    async with connect_v16(asgi_server.ws_url, "CMD-FV") as cp:
        await booted(cp)
        cp.replies["ClearCache"] = error(description="cannot read it")
        done = await command(asgi_server, "CMD-FV", "ClearCache", {})
    assert done.status == "error"
    assert done.error_code == error.code
    assert "cannot read it" in done.error_description


async def test_a_silent_charger_times_out(asgi_server):
    async with connect_v16(asgi_server.ws_url, "CMD-SLOW") as cp:
        await booted(cp)
        cp.replies["ClearCache"] = 1.5  # seconds of silence
        done = await command(asgi_server, "CMD-SLOW", "ClearCache", {}, timeout=0.3)
        assert done.status == "timeout"
        # The connection is still usable afterwards.
        await cp.call(call.Heartbeat())


async def test_an_offline_charger_gets_offline_at_once(asgi_server):
    await db(ChargingStation.objects.create, charger_id="CMD-OFF", registration_status="Accepted")
    done = await command(asgi_server, "CMD-OFF", "Reset", {"type": "Soft"})
    assert done.status == "offline"
    assert done.sent_at is None


async def test_queued_commands_wait_for_the_charger(asgi_server, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    await db(ChargingStation.objects.create, charger_id="CMD-Q", registration_status="Accepted")
    station = await db(ChargingStation.objects.get, charger_id="CMD-Q")
    queued = await asgi_server.run(send_command, station=station, action="ClearCache", payload={})
    assert queued.status == "pending"
    async with connect_v16(asgi_server.ws_url, "CMD-Q") as cp:
        done = await wait_final(queued.pk)
    assert done.status == "accepted"
    assert cp.received["ClearCache"] == [{}]


async def test_commands_go_one_at_a_time_in_order(asgi_server):
    async with connect_v16(asgi_server.ws_url, "CMD-ORDER") as cp:
        await booted(cp)
        cp.replies["ClearCache"] = 0.3  # a slow first answer
        station = await db(ChargingStation.objects.get, charger_id="CMD-ORDER")
        sent = []
        for action, payload in [
            ("ClearCache", {}),
            ("Reset", {"type": "Soft"}),
            ("UnlockConnector", {"connectorId": 1}),
        ]:
            sent.append(
                await asgi_server.run(send_command, station=station, action=action, payload=payload)
            )
        done = [await wait_final(c.pk) for c in sent]
    assert [c.status for c in done] == ["accepted"] * 3
    # Each CALL went out only after the previous one was answered.
    for before, after in itertools.pairwise(done):
        assert after.sent_at >= before.completed_at


async def test_payloads_are_checked_before_anything_is_sent(asgi_server):
    await db(ChargingStation.objects.create, charger_id="CMD-BAD", registration_status="Accepted")
    station = await db(ChargingStation.objects.get, charger_id="CMD-BAD")
    with pytest.raises(CommandError, match="invalid payload"):
        await db(send_command, station=station, action="Reset", payload={"type": "Sideways"})
    with pytest.raises(CommandError, match=r"not an OCPP 1\.6 action"):
        await db(send_command, station=station, action="Explode", payload={})
    with pytest.raises(CommandError, match="sent by chargers"):
        await db(send_command, station=station, action="Heartbeat", payload={})
    assert await db(ChargerCommand.objects.count) == 0


async def test_an_invalid_answer_is_an_error(asgi_server):
    async with connect_v16(asgi_server.ws_url, "CMD-INV") as cp:
        await booted(cp)
        cp.replies["GetLocalListVersion"] = {"list_version": "seven"}
        # The library checks its own answers; let this bad one through.
        cp._skip_schema_validation = True
        done = await command(asgi_server, "CMD-INV", "GetLocalListVersion", {})
    assert done.status == "error"
    assert done.error_code == "TypeConstraintViolation"


class TestSideEffects:
    async def test_change_availability_is_stored(self, asgi_server):
        async with connect_v16(asgi_server.ws_url, "CMD-AV") as cp:
            await booted(cp)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            await cp.call(
                call.StatusNotification(connector_id=2, error_code="NoError", status="Available")
            )
            done = await command(
                asgi_server,
                "CMD-AV",
                "ChangeAvailability",
                {"connectorId": 1, "type": "Inoperative"},
            )
            cp.replies["ChangeAvailability"] = {"status": "Scheduled"}
            scheduled = await command(
                asgi_server,
                "CMD-AV",
                "ChangeAvailability",
                {"connectorId": 2, "type": "Inoperative"},
            )
            cp.replies["ChangeAvailability"] = {"status": "Rejected"}
            refused = await command(
                asgi_server,
                "CMD-AV",
                "ChangeAvailability",
                {"connectorId": 0, "type": "Inoperative"},
            )
        assert (done.status, scheduled.status, refused.status) == (
            "accepted",
            "accepted",
            "rejected",
        )
        rows = await db(
            lambda: {
                c.connector_id: (c.availability, c.availability_scheduled)
                for c in Connector.objects.filter(station__charger_id="CMD-AV")
            }
        )
        assert rows[1] == ("Inoperative", False)
        assert rows[2] == ("Inoperative", True)

    async def test_change_configuration_keeps_value_and_status(self, asgi_server):
        async with connect_v16(asgi_server.ws_url, "CMD-CC") as cp:
            await booted(cp)
            await command(
                asgi_server,
                "CMD-CC",
                "ChangeConfiguration",
                {"key": "HeartbeatInterval", "value": "120"},
            )
            cp.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
            await command(
                asgi_server,
                "CMD-CC",
                "ChangeConfiguration",
                {"key": "WebSocketPingInterval", "value": "30"},
            )
            cp.replies["ChangeConfiguration"] = {"status": "Rejected"}
            rejected = await command(
                asgi_server,
                "CMD-CC",
                "ChangeConfiguration",
                {"key": "MeterValueSampleInterval", "value": "-1"},
            )
            cp.replies["ChangeConfiguration"] = {"status": "NotSupported"}
            await command(
                asgi_server, "CMD-CC", "ChangeConfiguration", {"key": "Vendor.Magic", "value": "1"}
            )
        assert rejected.status == "rejected"
        keys = await db(
            lambda: {
                k.key: (k.value, k.last_change_status, k.known)
                for k in ConfigurationKey.objects.filter(station__charger_id="CMD-CC")
            }
        )
        assert keys == {
            "HeartbeatInterval": ("120", "Accepted", True),
            "WebSocketPingInterval": ("30", "RebootRequired", True),
            "MeterValueSampleInterval": (None, "Rejected", True),
            "Vendor.Magic": (None, "NotSupported", False),
        }

    async def test_get_configuration_stores_every_key(self, asgi_server):
        async with connect_v16(asgi_server.ws_url, "CMD-GC") as cp:
            await booted(cp)
            cp.replies["GetConfiguration"] = {
                "configuration_key": [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                    {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                    {"key": "AuthorizationKey", "readonly": False},
                ],
                "unknown_key": ["Nope"],
            }
            done = await command(
                asgi_server,
                "CMD-GC",
                "GetConfiguration",
                {"key": ["HeartbeatInterval", "NumberOfConnectors", "AuthorizationKey", "Nope"]},
            )
        assert done.status == "accepted"
        assert cp.received["GetConfiguration"][0]["key"][-1] == "Nope"
        keys = await db(
            lambda: {
                k.key: (k.value, k.readonly, k.known)
                for k in ConfigurationKey.objects.filter(station__charger_id="CMD-GC")
            }
        )
        assert keys == {
            "HeartbeatInterval": ("300", False, True),
            "NumberOfConnectors": ("2", True, True),
            "AuthorizationKey": (None, False, True),
            "Nope": (None, False, False),
        }

    async def test_local_list_version_is_tracked(self, asgi_server):
        async with connect_v16(asgi_server.ws_url, "CMD-LL") as cp:
            await booted(cp)
            cp.replies["GetLocalListVersion"] = {"list_version": 7}
            await command(asgi_server, "CMD-LL", "GetLocalListVersion", {})
            assert (
                await db(ChargingStation.objects.get, charger_id="CMD-LL")
            ).local_list_version == 7
            sent = await command(
                asgi_server,
                "CMD-LL",
                "SendLocalList",
                {
                    "listVersion": 8,
                    "updateType": "Full",
                    "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}],
                },
            )
            assert sent.status == "accepted"
            cp.replies["SendLocalList"] = {"status": "VersionMismatch"}
            failed = await command(
                asgi_server,
                "CMD-LL",
                "SendLocalList",
                {"listVersion": 9, "updateType": "Differential"},
            )
        assert failed.status == "rejected"
        assert failed.response == {"status": "VersionMismatch"}
        station = await db(ChargingStation.objects.get, charger_id="CMD-LL")
        assert station.local_list_version == 8

    async def test_data_transfer_to_the_charger_is_kept(self, asgi_server):
        async with connect_v16(asgi_server.ws_url, "CMD-DT") as cp:
            await booted(cp)
            cp.replies["DataTransfer"] = {"status": "Accepted", "data": "pong"}
            done = await command(
                asgi_server,
                "CMD-DT",
                "DataTransfer",
                {"vendorId": "com.acme", "messageId": "ping", "data": "hi"},
            )
        assert done.response == {"status": "Accepted", "data": "pong"}
        row = await db(DataTransfer.objects.get, station__charger_id="CMD-DT")
        assert (
            row.direction,
            row.vendor_id,
            row.message_id,
            row.data,
            row.status,
            row.response_data,
        ) == ("out", "com.acme", "ping", "hi", "Accepted", "pong")
