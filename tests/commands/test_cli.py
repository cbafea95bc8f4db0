"""`manage.py ocpp_command`: the command line's way onto the one command path."""

from __future__ import annotations

import io
import json

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from tests.ocpp.charger import connect_v16


def run(*args: str) -> tuple[str, str]:
    """Run the command; return (stdout, stderr). Exceptions propagate to the caller."""
    out, err = io.StringIO(), io.StringIO()
    call_command("ocpp_command", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def station(db) -> ChargingStation:
    return ChargingStation.objects.create(charger_id="CP-CLI", registration_status="Accepted")


@pytest.mark.django_db
def test_an_offline_charger_ends_offline_with_exit_status_1(station, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("ocpp_command", "CP-CLI", "Reset", '{"type": "Soft"}', stdout=out)
    assert exit_.value.code == 1
    sent, outcome = lines(out.getvalue())
    command = ChargerCommand.objects.get()
    assert sent == {
        "command": command.pk,
        "charger": "CP-CLI",
        "action": "Reset",
        "status": "offline",
    }
    assert outcome["status"] == "offline"
    assert outcome["error_description"] == "the charger is not connected"
    assert (command.source, command.payload) == ("cli", {"type": "Soft"})


@pytest.mark.django_db
def test_a_queued_command_is_on_its_way_with_exit_status_0(station, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    out, _ = run("CP-CLI", "ClearCache")
    [sent] = lines(out)
    assert sent["status"] == "pending"
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload, command.status) == ("ClearCache", {}, "pending")


@pytest.mark.django_db
def test_waiting_for_a_queued_command_that_gets_no_outcome_exits_1(station, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("ocpp_command", "CP-CLI", "ClearCache", "--wait", "0.2", stderr=err)
    assert exit_.value.code == 1
    assert "still pending" in err.getvalue()


@pytest.mark.django_db
def test_the_timeout_option_is_stored(station, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    run("CP-CLI", "ClearCache", "{}", "--timeout", "7.5")
    assert ChargerCommand.objects.get().timeout_s == 7.5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("NOPE", "Reset", '{"type": "Soft"}'), "unknown charger 'NOPE'"),
        (("CP-CLI", "Reset", "{type: Soft}"), "invalid JSON payload"),
        (("CP-CLI", "Reset", '["Soft"]'), "must be a JSON object"),
        (("CP-CLI", "Reset", '{"type": "Gentle"}'), "invalid payload"),
        (("CP-CLI", "Explode", "{}"), "Explode is not an OCPP 1.6 action"),
        (("CP-CLI", "Reset", '{"type": "Soft"}', "--timeout", "0"), "--timeout"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(station, args, message):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    assert message in str(error.value)
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_it_sends_a_command_over_a_real_socket_and_waits_for_the_answer(
    asgi_server, settings
):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect_v16(asgi_server.ws_url, "CP-CLI-LIVE") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        cp.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
        # With the in-memory channel layer the command must start in the server's process and
        # loop, as it would with Redis from any process (see test_cross_process.py).
        out, _ = await asgi_server.run(
            run,
            "CP-CLI-LIVE",
            "ChangeConfiguration",
            '{"key": "HeartbeatInterval", "value": "60"}',
            "--wait",
            "10",
        )
    sent, outcome = lines(out)
    assert sent["status"] in {"pending", "sent"}
    assert outcome["status"] == "accepted"
    assert outcome["response"] == {"status": "RebootRequired"}
    assert cp.received["ChangeConfiguration"] == [{"key": "HeartbeatInterval", "value": "60"}]
    command = await sync_to_async(ChargerCommand.objects.get)(pk=sent["command"])
    assert (command.status, command.source) == (CommandStatus.ACCEPTED, "cli")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        ("ocpp1.6", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
        (
            "ocpp2.1",
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "60",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
    ],
)
def test_an_operation_picks_the_station_s_action(settings, version, action, payload):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    ChargingStation.objects.create(charger_id="CP-OP", ocpp_version=version)
    out, _ = run("CP-OP", "set_configuration", '{"key": "HeartbeatInterval", "value": "60"}')
    command = ChargerCommand.objects.get(pk=lines(out)[0]["command"])
    assert (command.action, command.payload, command.source) == (action, payload, "cli")


@pytest.mark.django_db
def test_an_operation_with_wrong_arguments_exits_2(station):
    with pytest.raises(CommandError) as error:
        run("CP-CLI", "reset", '{"sideways": true}')
    assert error.value.returncode == 2
    assert "sideways" in str(error.value)
    assert not ChargerCommand.objects.exists()
