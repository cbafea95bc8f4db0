"""Commands that belong to a domain app go through that app's service from the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from apps.core.timeutil import utcnow
from apps.maintenance.models import FirmwareFile
from apps.reservations.models import Reservation
from apps.reservations.services import reservation_create
from apps.rfid.models import IdTag
from tests.maintenance.signing import signed_firmware, signer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def offline_commands_end_at_once(settings):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False
    settings.PUBLIC_URL = ""


@pytest.fixture
def station() -> ChargingStation:
    return ChargingStation.objects.create(
        charger_id="CP-SVC", registration_status="Accepted", ocpp_version="ocpp1.6"
    )


def command_url(station: ChargingStation, action: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, action])


def test_reserve_now_creates_a_reservation(admin_client, admin_user, station):
    expiry = (utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)
    response = admin_client.post(
        command_url(station, "reserve_now"),
        {
            "connector_id": "1",
            "id_tag": "DRIVER-1",
            "expiry_date": expiry.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    reservation = Reservation.objects.get()
    command = ChargerCommand.objects.get(action="ReserveNow")
    assert reservation.command == command
    assert (reservation.expires_at, reservation.requested_by) == (expiry, admin_user)
    assert command.payload["reservationId"] == reservation.reservation_id
    assert (command.status, command.source) == (CommandStatus.OFFLINE, "admin")


def test_cancelling_a_reservation_that_ended_is_a_form_error(admin_client, station):
    reservation = reservation_create(
        station=station, id_tag="T-1", expires_at=utcnow() + timedelta(hours=1), connector_id=1
    )  # the station is offline: the reservation is rejected at once
    before = ChargerCommand.objects.count()
    response = admin_client.post(
        command_url(station, "cancel_reservation"),
        {"reservation_id": str(reservation.reservation_id)},
    )
    assert response.status_code == 200
    assert "only pending or accepted" in str(response.context["form"].non_field_errors())
    assert ChargerCommand.objects.count() == before


def test_an_unknown_reservation_id_is_cancelled_by_its_number(admin_client, station):
    response = admin_client.post(
        command_url(station, "cancel_reservation"), {"reservation_id": "9"}
    )
    assert response.status_code == 302
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == ("CancelReservation", {"reservationId": 9})


def test_get_diagnostics_without_a_location_uploads_to_this_server(admin_client, station):
    response = admin_client.post(
        command_url(station, "get_logs"),
        {"location": "", "stop_time": "2026-01-02T00:00", "retries": "2"},
    )
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.action == "GetDiagnostics"
    assert command.payload["location"].startswith("http://testserver/")
    assert command.payload["stopTime"] == "2026-01-02T00:00:00.000Z"
    assert command.payload["retries"] == 2
    assert (command.status, command.source) == (CommandStatus.OFFLINE, "admin")


def test_update_firmware_serves_a_stored_image(admin_client, station, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PUBLIC_URL = "https://csms.example.com/"
    firmware = FirmwareFile.objects.create(
        name="fw", version="2.0", file=SimpleUploadedFile("fw-2.0.bin", b"\x00firmware")
    )
    response = admin_client.post(
        command_url(station, "update_firmware"), {"firmware": str(firmware.pk), "location": ""}
    )
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.payload["location"].startswith("https://csms.example.com/")
    assert command.payload["location"].endswith("fw-2.0.bin")
    assert "retrieveDate" in command.payload


def test_update_firmware_wants_either_a_stored_image_or_a_location(admin_client, station):
    response = admin_client.post(command_url(station, "update_firmware"), {"location": ""})
    assert response.status_code == 200
    assert "Choose a stored firmware or give a location" in str(
        response.context["form"].non_field_errors()
    )
    assert not ChargerCommand.objects.exists()


def test_send_local_list_sends_the_flagged_id_tags(admin_client, station):
    IdTag.objects.create(id_tag="CARD-1", in_local_list=True)
    IdTag.objects.create(id_tag="CARD-2", in_local_list=False)
    response = admin_client.post(command_url(station, "send_local_list"), {"update_type": "Full"})
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.payload["updateType"] == "Full"
    assert command.payload["listVersion"] == 1
    assert [e["idTag"] for e in command.payload["localAuthorizationList"]] == ["CARD-1"]
    [message] = get_messages(response.wsgi_request)
    assert "Send local list not sent, station CP-SVC is offline" in str(message)


def test_rotate_password_sends_the_key_without_the_secret(admin_client, station):
    response = admin_client.post(command_url(station, "rotate_password"), {})
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == (
        "ChangeConfiguration",
        {"key": "AuthorizationKey", "value": "********"},
    )
    station.refresh_from_db()
    assert station.pending_password_hash


@pytest.mark.parametrize(
    ("form", "log_type"),
    [({"log_type": "SecurityLog"}, "SecurityLog"), ({"get_log": "on"}, "DiagnosticsLog")],
)
def test_get_logs_sends_the_security_extension_get_log_to_a_1_6_station(
    admin_client, station, form, log_type
):
    response = admin_client.post(command_url(station, "get_logs"), {"location": "", **form})
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.action == "GetLog"
    assert command.payload["logType"] == log_type
    assert command.payload["log"]["remoteLocation"].startswith("http://testserver/")
    assert command.status == CommandStatus.OFFLINE


def test_get_logs_to_a_location_elsewhere_can_be_a_1_6_get_log(admin_client, station):
    response = admin_client.post(
        command_url(station, "get_logs"),
        {"location": "https://logs.example.com/up/", "log_type": "SecurityLog"},
    )
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.action == "GetLog"
    assert command.payload["log"] == {"remoteLocation": "https://logs.example.com/up/"}
    assert command.payload["logType"] == "SecurityLog"


def test_update_firmware_sends_a_signed_image_to_a_1_6_station_signed(
    admin_client, station, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    key = signer()
    firmware = signed_firmware(b"\x00signed firmware", by=key)
    response = admin_client.post(
        command_url(station, "update_firmware"),
        {"firmware": str(firmware.pk), "location": "", "install_date": "2099-03-01T04:30"},
    )
    assert response.status_code == 302, response.context["form"].errors
    command = ChargerCommand.objects.get()
    assert command.action == "SignedUpdateFirmware"
    image = command.payload["firmware"]
    assert (image["signature"], image["signingCertificate"]) == (
        firmware.signature,
        key.certificate_pem.strip(),
    )
    assert image["installDateTime"] == "2099-03-01T04:30:00.000Z"
