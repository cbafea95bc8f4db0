"""Operators send every OCPP 1.6 command from the station's admin page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.chargers.models import ChargingStation, ConfigurationKey
from apps.commands.forms import COMMAND_FORMS
from apps.commands.models import ChargerCommand, CommandStatus
from apps.core.timeutil import utcnow

pytestmark = pytest.mark.django_db

OCPP16_COMMANDS = [
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "DataTransfer",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
]


@pytest.fixture(autouse=True)
def commands_to_offline_stations_end_at_once(settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False


@pytest.fixture
def station() -> ChargingStation:
    return ChargingStation.objects.create(
        charger_id="CP-ADM", registration_status="Accepted", ocpp_version="ocpp1.6"
    )


def command_url(station: ChargingStation, action: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, action])


def change_url(station: ChargingStation) -> str:
    return reverse("admin:chargers_chargingstation_change", args=[station.pk])


def test_there_is_a_form_for_every_ocpp16_command():
    assert sorted(COMMAND_FORMS) == OCPP16_COMMANDS


@pytest.mark.parametrize("action", OCPP16_COMMANDS)
def test_every_command_form_renders(admin_client, station, action):
    response = admin_client.get(command_url(station, action))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Send {action}" in body
    assert 'name="raw-payload"' in body
    assert response.context["form"].action == action


def test_the_station_page_links_every_command(admin_client, station):
    response = admin_client.get(change_url(station))
    body = response.content.decode()
    for action in OCPP16_COMMANDS:
        assert f'href="{command_url(station, action)}"' in body


def test_an_unknown_action_is_not_found(admin_client, station):
    assert admin_client.get(command_url(station, "Explode")).status_code == 404


FUTURE = (utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0)

# action → (form data, payload the command must carry)
POSTS = {
    "ChangeAvailability": (
        {"connector_id": "0", "type": "Inoperative"},
        {"connectorId": 0, "type": "Inoperative"},
    ),
    "ChangeConfiguration": (
        {"key": "HeartbeatInterval", "value": "120"},
        {"key": "HeartbeatInterval", "value": "120"},
    ),
    "ClearCache": ({}, {}),
    "DataTransfer": (
        {"vendor_id": "com.example", "message_id": "Hello", "data": "{}"},
        {"vendorId": "com.example", "messageId": "Hello", "data": "{}"},
    ),
    "GetConfiguration": (
        {"keys": "HeartbeatInterval\n\nMeterValueSampleInterval\n"},
        {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
    ),
    "GetDiagnostics": (
        {
            "location": "ftp://logs.example.com/upload/",
            "start_time": "2026-01-01T10:00",
            "retries": "3",
        },
        {
            "location": "ftp://logs.example.com/upload/",
            "startTime": "2026-01-01T10:00:00.000Z",
            "retries": 3,
        },
    ),
    "GetLocalListVersion": ({}, {}),
    "RemoteStartTransaction": (
        {"id_tag": "DRIVER-1", "connector_id": "2"},
        {"idTag": "DRIVER-1", "connectorId": 2},
    ),
    "RemoteStopTransaction": ({"transaction_id": "77"}, {"transactionId": 77}),
    "Reset": ({"type": "Hard"}, {"type": "Hard"}),
    "TriggerMessage": (
        {"requested_message": "StatusNotification", "connector_id": "1"},
        {"requestedMessage": "StatusNotification", "connectorId": 1},
    ),
    "UnlockConnector": ({"connector_id": "1"}, {"connectorId": 1}),
    "UpdateFirmware": (
        {
            "location": "https://fw.example.com/fw-2.bin",
            "retrieve_date": "2026-03-01T04:30",
            "retry_interval": "60",
        },
        {
            "location": "https://fw.example.com/fw-2.bin",
            "retrieveDate": "2026-03-01T04:30:00.000Z",
            "retryInterval": 60,
        },
    ),
}


@pytest.mark.parametrize("action", sorted(POSTS))
def test_posting_a_form_to_an_offline_station_stores_an_offline_command(
    admin_client, admin_user, station, action
):
    data, payload = POSTS[action]
    response = admin_client.post(command_url(station, action), data)
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == change_url(station)
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == (action, payload)
    assert command.status == CommandStatus.OFFLINE
    assert (command.source, command.requested_by) == ("admin", admin_user)
    [message] = get_messages(response.wsgi_request)
    assert f"{action} not sent, CP-ADM is offline" in str(message)
    assert message.level_tag == "error"


def test_a_raw_payload_is_sent_as_it_is(admin_client, station):
    response = admin_client.post(
        command_url(station, "CancelReservation"),
        {"raw-payload": '{"reservationId": 42}', "_raw": "Send"},
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == ("CancelReservation", {"reservationId": 42})


def test_a_raw_payload_that_breaks_the_schema_is_a_form_error(admin_client, station):
    response = admin_client.post(
        command_url(station, "Reset"), {"raw-payload": '{"type": "Gentle"}', "_raw": "Send"}
    )
    assert response.status_code == 200
    assert "invalid payload" in str(response.context["raw_form"].non_field_errors())
    assert not ChargerCommand.objects.exists()


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("Reset", {"type": "Gentle"}, "type"),
        ("ChangeAvailability", {"connector_id": "-1", "type": "Operative"}, "connector_id"),
        ("ChangeConfiguration", {"key": "", "value": "1"}, "key"),
        ("RemoteStartTransaction", {"id_tag": "X" * 21}, "id_tag"),
        ("RemoteStopTransaction", {"transaction_id": "abc"}, "transaction_id"),
        ("UpdateFirmware", {"location": "not a url"}, "location"),
        (
            "ReserveNow",
            {"connector_id": "1", "id_tag": "T", "expiry_date": "2000-01-01T00:00"},
            "expiry_date",
        ),
        ("TriggerMessage", {"requested_message": "LogStatusNotification"}, "requested_message"),
    ],
)
def test_an_invalid_form_shows_errors_and_sends_nothing(admin_client, station, action, data, field):
    response = admin_client.post(command_url(station, action), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="errornote"' in response.content.decode()
    assert not ChargerCommand.objects.exists()


def test_a_change_configuration_link_prefills_the_key(admin_client, station):
    response = admin_client.get(
        command_url(station, "ChangeConfiguration") + "?key=HeartbeatInterval"
    )
    assert response.context["form"]["key"].value() == "HeartbeatInterval"


def test_the_station_page_shows_command_history_and_configuration(
    admin_client, admin_user, station
):
    ChargerCommand.objects.create(
        station=station,
        action="Reset",
        payload={"type": "Soft"},
        status=CommandStatus.ACCEPTED,
        response={"status": "Accepted"},
        requested_by=admin_user,
        source="admin",
        timeout_s=30,
        completed_at=utcnow(),
    )
    ChargerCommand.objects.create(
        station=station,
        action="ClearCache",
        status=CommandStatus.ERROR,
        error_code="NotSupported",
        error_description="no cache here",
        source="cli",
        timeout_s=30,
    )
    ConfigurationKey.objects.create(station=station, key="HeartbeatInterval", value="300")
    ConfigurationKey.objects.create(
        station=station, key="NumberOfConnectors", value="2", readonly=True
    )

    response = admin_client.get(change_url(station))

    assert response.status_code == 200
    history = response.context["command_history"]
    assert [c.action for c in history] == ["ClearCache", "Reset"]
    body = response.content.decode()
    assert "NotSupported no cache here" in body
    assert "{&#x27;status&#x27;: &#x27;Accepted&#x27;}" in body
    assert admin_user.username in body
    assert [k.key for k in response.context["configuration_keys"]] == [
        "HeartbeatInterval",
        "NumberOfConnectors",
    ]
    assert "?key=HeartbeatInterval&amp;value=300" in body
    assert "NumberOfConnectors" in body


def test_the_history_lists_only_the_latest_twenty(admin_client, station):
    ChargerCommand.objects.bulk_create(
        ChargerCommand(station=station, action="ClearCache", timeout_s=30) for _ in range(25)
    )
    response = admin_client.get(change_url(station))
    assert len(response.context["command_history"]) == 20


def test_a_command_for_an_offline_station_can_wait_in_the_queue(admin_client, station, settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = True
    response = admin_client.post(command_url(station, "ClearCache"), {})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().status == CommandStatus.PENDING
    [message] = get_messages(response.wsgi_request)
    assert "queued for CP-ADM" in str(message)
    assert message.level_tag == "info"


def test_a_connected_station_gets_a_few_seconds_to_answer(admin_client, station, monkeypatch):
    from apps.chargers.admin import ChargingStationAdmin

    monkeypatch.setattr(ChargingStationAdmin, "command_wait_s", 0.2)
    ChargingStation.objects.filter(pk=station.pk).update(is_connected=True)
    # Nothing holds this station's socket here, so no answer comes within the wait.
    response = admin_client.post(command_url(station, "Reset"), {"type": "Soft"})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().status == CommandStatus.PENDING
    [message] = get_messages(response.wsgi_request)
    assert "Reset sent to CP-ADM, no answer yet" in str(message)


def test_the_command_list_is_read_only_and_filters(admin_client, station):
    command = ChargerCommand.objects.create(
        station=station, action="Reset", payload={"type": "Soft"}, source="cli", timeout_s=30
    )
    listing = admin_client.get(
        reverse("admin:commands_chargercommand_changelist"),
        {"status": "pending", "action": "Reset", "source": "cli", "q": "CP-ADM"},
    )
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [command]
    by_station = admin_client.get(
        reverse("admin:commands_chargercommand_changelist"), {"station__id__exact": station.pk}
    )
    assert list(by_station.context["cl"].queryset) == [command]
    detail = admin_client.get(reverse("admin:commands_chargercommand_change", args=[command.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:commands_chargercommand_add")).status_code == 403


@pytest.mark.parametrize("perms", [["change_chargingstation"], ["add_chargercommand"]])
def test_sending_commands_needs_both_permissions(client, station, django_user_model, perms):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("staff", password="pw-123-abc", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_chargingstation", *perms])
    )
    client.force_login(user)
    page = client.get(change_url(station))
    assert page.status_code == 200
    assert page.context["command_links"] == []
    assert client.post(command_url(station, "Reset"), {"type": "Soft"}).status_code == 403
    assert not ChargerCommand.objects.exists()
