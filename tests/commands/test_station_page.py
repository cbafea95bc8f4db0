"""Operators send every OCPP 1.6 command from the station's admin page, one operation each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.chargers.models import ChargingStation, ConfigurationKey
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import operation_for_action, operation_named
from apps.core.timeutil import utcnow
from apps.protocol.versions import V16
from apps.transactions.models import Transaction

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


def test_every_ocpp16_command_has_one_operation_with_a_form():
    owners = {
        action: operation_for_action(version=V16, action=action) for action in OCPP16_COMMANDS
    }
    assert all(owner is not None and owner.form for owner in owners.values())
    assert owners["Reset"].name == "reset"
    assert owners["ReserveNow"].name == "reserve_now"


@pytest.mark.parametrize("action", OCPP16_COMMANDS)
def test_every_command_name_opens_its_operation_s_form(admin_client, station, action):
    response = admin_client.get(command_url(station, action))
    assert response.status_code == 200
    body = response.content.decode()
    operation = operation_for_action(version=V16, action=action)
    assert response.context["operation"] == operation
    assert f"Send {operation.label}" in body
    assert 'name="raw-payload"' in body
    assert response.context["raw_form"]["action"].value() == action


def test_the_station_page_offers_each_operation_once(admin_client, station):
    response = admin_client.get(change_url(station))
    body = response.content.decode()
    links = response.context["operation_links"]
    names = [url.rstrip("/").rsplit("/", 1)[1] for _, _, url in links]
    assert len(names) == len(set(names))
    for action in OCPP16_COMMANDS:
        url = command_url(station, operation_for_action(version=V16, action=action).name)
        assert body.count(f'href="{url}"') == 1
    # One Reset, version-neutral: no second button of a per-action form family.
    assert body.count("/command/reset/") == 1
    assert "/command/Reset/" not in body
    assert 'id="station-commands"' not in body


def test_the_reset_form_defaults_to_a_soft_reset(admin_client, station):
    response = admin_client.get(command_url(station, "reset"))
    assert response.context["form"]["hard"].value() == "0"
    assert 'value="0" required id="id_hard_0" checked' in response.content.decode()


def test_an_unknown_action_is_not_found(admin_client, station):
    assert admin_client.get(command_url(station, "Explode")).status_code == 404


FUTURE = (utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0)

# operation → (form data, action and payload the command must carry)
POSTS = {
    "change_availability": (
        {"connector_id": "0", "operative": "0"},
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
    ),
    "set_configuration": (
        {"key": "HeartbeatInterval", "value": "120"},
        "ChangeConfiguration",
        {"key": "HeartbeatInterval", "value": "120"},
    ),
    "clear_cache": ({}, "ClearCache", {}),
    "data_transfer": (
        {"vendor_id": "com.example", "message_id": "Hello", "data": "{}"},
        "DataTransfer",
        {"vendorId": "com.example", "messageId": "Hello", "data": "{}"},
    ),
    "get_configuration": (
        {"keys": "HeartbeatInterval\n\nMeterValueSampleInterval\n"},
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]},
    ),
    "get_logs": (
        {
            "location": "ftp://logs.example.com/upload/",
            "start_time": "2026-01-01T10:00",
            "retries": "3",
        },
        "GetDiagnostics",
        {
            "location": "ftp://logs.example.com/upload/",
            "startTime": "2026-01-01T10:00:00.000Z",
            "retries": 3,
        },
    ),
    "get_local_list_version": ({}, "GetLocalListVersion", {}),
    "remote_start": (
        {"id_tag": "DRIVER-1", "connector_id": "2"},
        "RemoteStartTransaction",
        {"idTag": "DRIVER-1", "connectorId": 2},
    ),
    "remote_stop": ({"transaction_id": "77"}, "RemoteStopTransaction", {"transactionId": 77}),
    "reset": ({"hard": "1"}, "Reset", {"type": "Hard"}),
    "trigger_message": (
        {"message": "StatusNotification", "connector_id": "1"},
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
    ),
    "unlock": ({"connector_id": "1"}, "UnlockConnector", {"connectorId": 1}),
    "update_firmware": (
        {
            "location": "https://fw.example.com/fw-2.bin",
            "retrieve_date": "2026-03-01T04:30",
            "retry_interval": "60",
        },
        "UpdateFirmware",
        {
            "location": "https://fw.example.com/fw-2.bin",
            "retrieveDate": "2026-03-01T04:30:00.000Z",
            "retryInterval": 60,
        },
    ),
}


@pytest.mark.parametrize("operation", sorted(POSTS))
def test_posting_a_form_to_an_offline_station_stores_an_offline_command(
    admin_client, admin_user, station, operation
):
    data, action, payload = POSTS[operation]
    if operation == "remote_stop":  # the form offers the station's running sessions
        Transaction.objects.create(station=station, transaction_id="77", started_at=utcnow())
    response = admin_client.post(command_url(station, operation), data)
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == change_url(station) + "#tab-commands"
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == (action, payload)
    assert command.status == CommandStatus.OFFLINE
    assert (command.source, command.requested_by) == ("admin", admin_user)
    [message] = get_messages(response.wsgi_request)
    label = operation_named(operation).label
    assert f"{label} not sent, station CP-ADM is offline" in str(message)
    assert message.level_tag == "error"


@pytest.mark.parametrize("name", ["cancel_reservation", "CancelReservation"])
def test_a_raw_payload_is_sent_as_it_is(admin_client, station, name):
    response = admin_client.post(
        command_url(station, name),
        {"raw-payload": '{"reservationId": 42}', "_raw": "Send"},
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == ("CancelReservation", {"reservationId": 42})


def test_a_raw_payload_is_only_for_the_operation_s_own_actions(admin_client, station):
    response = admin_client.post(
        command_url(station, "cancel_reservation"),
        {"raw-action": "Reset", "raw-payload": '{"type": "Hard"}', "_raw": "Send"},
    )
    assert response.status_code == 200
    assert "action" in response.context["raw_form"].errors
    assert not ChargerCommand.objects.exists()


def test_a_raw_payload_that_breaks_the_schema_is_a_form_error(admin_client, station):
    response = admin_client.post(
        command_url(station, "reset"), {"raw-payload": '{"type": "Gentle"}', "_raw": "Send"}
    )
    assert response.status_code == 200
    assert "invalid payload" in str(response.context["raw_form"].non_field_errors())
    assert not ChargerCommand.objects.exists()


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("reset", {"hard": "sideways"}, "hard"),
        ("change_availability", {"connector_id": "-1", "operative": "1"}, "connector_id"),
        ("set_configuration", {"key": "", "value": "1"}, "key"),
        ("remote_start", {"id_tag": "X" * 21}, "id_tag"),
        ("remote_stop", {"transaction_id": "abc"}, "transaction_id"),
        ("update_firmware", {"location": "not a url"}, "location"),
        (
            "reserve_now",
            {"connector_id": "1", "id_tag": "T", "expiry_date": "2000-01-01T00:00"},
            "expiry_date",
        ),
        ("trigger_message", {"message": "LogStatusNotification"}, "message"),
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
        command_url(station, "set_configuration") + "?key=HeartbeatInterval"
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
    # Answers in words: no Python repr, no JSON.
    assert '<td class="command-answer">Accepted</td>' in body
    assert "{&#x27;status" not in body and "{&quot;status" not in body
    assert ">Clear cache</a>" in body and ">Reset</a>" in body
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
    response = admin_client.post(command_url(station, "clear_cache"), {})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().status == CommandStatus.PENDING
    [message] = get_messages(response.wsgi_request)
    assert "queued for station CP-ADM" in str(message)
    assert message.level_tag == "info"


def test_a_connected_station_gets_a_few_seconds_to_answer(admin_client, station, monkeypatch):
    from apps.dashboard.station_admin import ChargingStationAdmin

    monkeypatch.setattr(ChargingStationAdmin, "command_wait_s", 0.2)
    ChargingStation.objects.filter(pk=station.pk).update(is_connected=True)
    # Nothing holds this station's socket here, so no answer comes within the wait.
    response = admin_client.post(command_url(station, "reset"), {"hard": "0"})
    assert response.status_code == 302
    assert ChargerCommand.objects.get().status == CommandStatus.PENDING
    [message] = get_messages(response.wsgi_request)
    assert "Reset sent to station CP-ADM, no answer yet" in str(message)


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
        Permission.objects.filter(codename__in=["view_chargingstation", "all_sites", *perms])
    )
    client.force_login(user)
    page = client.get(change_url(station))
    assert page.status_code == 200
    assert page.context["operation_links"] == []
    assert "/command/reset/" not in page.content.decode()
    assert client.post(command_url(station, "reset"), {"hard": "0"}).status_code == 403
    assert not ChargerCommand.objects.exists()
