"""Answers in words and tables: never raw JSON or Python repr (issue #20.2)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.answers import answer_summary, answer_table, command_label
from apps.commands.models import ChargerCommand, CommandStatus
from apps.dashboard.station_commands import command_outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def station() -> ChargingStation:
    return ChargingStation.objects.create(charger_id="CP-ANS", ocpp_version="ocpp1.6")


def answered(station: ChargingStation, action: str, response: dict) -> ChargerCommand:
    return ChargerCommand.objects.create(
        station=station,
        action=action,
        status=CommandStatus.ACCEPTED,
        response=response,
        timeout_s=30,
    )


GET_CONFIGURATION = {
    "configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    ],
    "unknownKey": ["NoSuchKey"],
}


def test_a_get_configuration_answer_is_a_table_of_keys(station):
    table = answer_table(answered(station, "GetConfiguration", GET_CONFIGURATION))
    assert table.headers == ["Key", "Value", "Read-only"]
    assert table.rows == [
        ["HeartbeatInterval", "300", "no"],
        ["NumberOfConnectors", "2", "yes"],
        ["NoSuchKey", "unknown key", "-"],
    ]


def test_a_get_variables_answer_is_a_table_of_variables():
    station = ChargingStation.objects.create(charger_id="CP-V2", ocpp_version="ocpp2.0.1")
    command = answered(
        station,
        "GetVariables",
        {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "60",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
                {
                    "attributeStatus": "UnknownVariable",
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "Power", "instance": "Max"},
                },
            ]
        },
    )
    table = answer_table(command)
    assert table.rows == [
        ["OCPPCommCtrlr", "HeartbeatInterval", "Actual", "Accepted", "60"],
        ["EVSE · EVSE 1", "Power (Max)", "Actual", "UnknownVariable", "-"],
    ]
    assert answer_summary(command) == "2 rows"


def test_the_summary_says_the_status_in_words(station):
    assert answer_summary(answered(station, "Reset", {"status": "Accepted"})) == "Accepted"
    assert answer_summary(answered(station, "GetConfiguration", GET_CONFIGURATION)) == "3 rows"
    failed = ChargerCommand.objects.create(
        station=station,
        action="Reset",
        status=CommandStatus.ERROR,
        error_code="NotSupported",
        error_description="no",
        timeout_s=30,
    )
    assert answer_summary(failed) == "NotSupported no"


def test_a_command_is_called_by_its_operation_s_label(station):
    assert command_label(answered(station, "RemoteStartTransaction", {})) == "Remote start"
    assert command_label(answered(station, "Heartbeat", {})) == "Heartbeat"


def test_the_command_page_renders_get_configuration_as_a_table(admin_client, station):
    command = answered(station, "GetConfiguration", GET_CONFIGURATION)
    page = admin_client.get(
        reverse("admin:commands_chargercommand_change", args=[command.pk])
    ).content.decode()
    assert '<table class="answer-table">' in page
    assert "<td>HeartbeatInterval</td><td>300</td><td>no</td>" in page
    listing = admin_client.get(reverse("admin:commands_chargercommand_changelist")).content
    assert b"3 rows" in listing and b"configurationKey" not in listing


def test_the_banner_after_get_configuration_holds_no_json(admin_client, station):
    _level, text = command_outcome(answered(station, "GetConfiguration", GET_CONFIGURATION))
    assert text == "Get configuration accepted by station CP-ANS: 3 rows"
    assert "{" not in text
