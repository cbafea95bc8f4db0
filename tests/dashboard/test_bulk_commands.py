"""One command to several stations from the station list, with per-station outcomes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.forms import OperationForm
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import Operation, operation_named, per_version
from apps.dashboard import bulk_commands
from apps.dashboard.bulk_commands import bulk_operations

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/chargers/chargingstation/"


@contextmanager
def patch_operations(operation: Operation) -> Iterator[None]:
    """Offer only `operation` for bulk, looked up by its name (the registry stays as it is)."""
    saved = (bulk_commands.BULK_OPERATIONS, bulk_commands.operation_named)
    bulk_commands.BULK_OPERATIONS = (operation.name,)
    bulk_commands.operation_named = {operation.name: operation}.get
    try:
        yield
    finally:
        bulk_commands.BULK_OPERATIONS, bulk_commands.operation_named = saved


@pytest.fixture
def stations() -> list[ChargingStation]:
    return [
        ChargingStation.objects.create(
            charger_id=f"BULK-{n}", registration_status="Accepted", ocpp_version=version
        )
        for n, version in ((1, "ocpp1.6"), (2, "ocpp1.6"), (3, "ocpp2.0.1"))
    ]


def action_post(stations: list[ChargingStation], **data: str) -> dict:
    return {
        "action": "send_command",
        helpers.ACTION_CHECKBOX_NAME: [str(s.pk) for s in stations],
        **data,
    }


def test_the_action_offers_the_operations_every_selected_station_has(admin_client, stations):
    response = admin_client.post(CHANGELIST, action_post(stations, index="0"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Send a command to 3 stations" in page
    options = re.findall(r'<option value="([a-z_]+)"', page)
    assert "reset" in options and "change_availability" in options
    assert "remote_stop" not in options  # a station's own records: one station at a time
    for name in options:
        operation = operation_named(name)
        assert all(operation.actions_for(s.protocol_version) for s in stations), name


def test_an_operation_one_of_the_stations_lacks_is_not_offered():
    v16 = ChargingStation(charger_id="A", ocpp_version="ocpp1.6")
    v2 = ChargingStation(charger_id="B", ocpp_version="ocpp2.0.1")
    extended = Operation(
        name="x",
        label="X",
        help_text="",
        actions=per_version(("ExtendedTriggerMessage",), ()),
        form=OperationForm,
        send=lambda **kwargs: None,
    )
    with patch_operations(extended):
        assert [op.name for op in bulk_operations([v16])] == ["x"]
        assert bulk_operations([v16, v2]) == []


def test_picking_an_operation_shows_its_form_with_its_defaults(admin_client, stations):
    page = admin_client.post(
        CHANGELIST, action_post(stations, operation="change_availability", _choose="Next")
    ).content.decode()
    assert 'name="op-connector_id"' in page and 'name="op-operative"' in page
    assert "Send to 3 stations" in page
    reset = admin_client.post(CHANGELIST, action_post(stations, operation="reset", _choose="1"))
    assert 'value="0" required id="id_op-hard_0" checked' in reset.content.decode()


def test_sending_makes_one_command_per_station_and_shows_each_outcome(
    admin_client, admin_user, stations
):
    response = admin_client.post(
        CHANGELIST,
        action_post(
            stations,
            operation="change_availability",
            **{"op-connector_id": "0", "op-operative": "0"},
            _send="Send",
        ),
    )
    assert response.status_code == 302
    commands = ChargerCommand.objects.order_by("station__charger_id")
    assert [(c.station.charger_id, c.action) for c in commands] == [
        ("BULK-1", "ChangeAvailability"),
        ("BULK-2", "ChangeAvailability"),
        ("BULK-3", "ChangeAvailability"),
    ]
    assert commands[0].payload == {"connectorId": 0, "type": "Inoperative"}
    assert commands[2].payload == {"operationalStatus": "Inoperative"}  # OCPP 2.0.1's own
    assert {c.requested_by for c in commands} == {admin_user}
    assert {c.status for c in commands} == {CommandStatus.OFFLINE}

    results = admin_client.get(response["Location"])
    page = results.content.decode()
    rows = re.findall(r'data-station="(BULK-\d)" data-status="([a-z]+)"', page)
    assert rows == [("BULK-1", "offline"), ("BULK-2", "offline"), ("BULK-3", "offline")]
    assert page.count("Charger offline") == 3
    assert 'http-equiv="refresh"' not in page  # nothing to wait for


def test_the_results_page_refreshes_while_answers_are_awaited(admin_client, stations):
    command = ChargerCommand.objects.create(
        station=stations[0], action="Reset", status=CommandStatus.SENT, timeout_s=30
    )
    url = reverse("admin:chargers_chargingstation_bulk_results") + f"?commands={command.pk},x"
    page = admin_client.get(url).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Sent" in page


def test_a_station_whose_form_rejects_the_data_is_told_and_the_others_sent(admin_client, stations):
    response = admin_client.post(
        CHANGELIST,
        action_post(stations, operation="unlock", **{"op-connector_id": "0"}, _send="Send"),
        follow=True,
    )
    assert not ChargerCommand.objects.exists()
    page = response.content.decode()
    assert "Station BULK-1: not sent" in page


def test_only_who_may_send_commands_has_the_action(staff_client, stations):
    viewer = staff_client("chargers.view_chargingstation", "chargers.change_chargingstation")
    page = viewer.get(CHANGELIST).content.decode()
    assert 'value="send_command"' not in page
    viewer.post(CHANGELIST, action_post(stations, operation="reset", _send="1", **{"op-hard": "0"}))
    assert not ChargerCommand.objects.exists()
    results = reverse("admin:chargers_chargingstation_bulk_results")
    assert viewer.get(results).status_code == 403

    sender = staff_client(
        "chargers.view_chargingstation",
        "chargers.change_chargingstation",
        "commands.add_chargercommand",
    )
    assert 'value="send_command"' in sender.get(CHANGELIST).content.decode()
