"""Signed firmware: signature and signing certificate checked as the operator uploads them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.chargers.models import ChargingStation
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate
from tests.maintenance.signing import signed_firmware, signer

pytestmark = pytest.mark.django_db

IMAGE = b"\x7fELF signed image " + bytes(range(256)) * 4
ADD = "/admin/maintenance/firmwarefile/add/"


def upload(admin_client, **fields):
    data = {"name": "Acme", "version": "5", "file": SimpleUploadedFile("fw-5.bin", IMAGE)}
    return admin_client.post(ADD, {**data, **fields})


def test_a_signed_image_is_stored_with_its_signature_and_certificate(admin_client):
    key = signer()
    signature = key.sign(IMAGE)
    response = upload(admin_client, signature=signature, signing_certificate=key.certificate_pem)
    assert response.status_code == 302, response.content.decode()
    firmware = FirmwareFile.objects.get()
    assert firmware.is_signed
    assert (firmware.signature, firmware.signing_certificate.strip()) == (
        signature,
        key.certificate_pem.strip(),
    )
    assert firmware.size == len(IMAGE)


def test_an_unsigned_image_is_still_accepted(admin_client):
    response = upload(admin_client)
    assert response.status_code == 302
    assert not FirmwareFile.objects.get().is_signed


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"signature": "not base64 !!", "certificate": True}, "not valid Base64"),
        ({"signature": "QUJD" * 201, "certificate": True}, "OCPP allows 800"),
        ({"signature": "QUJD", "signing_certificate": "-----BEGIN CERTIFICATE-----\nxx\n"}, "PEM"),
        ({"signature": "QUJD"}, "needs both its signature and its signing certificate"),
        ({"certificate": True}, "needs both its signature and its signing certificate"),
    ],
)
def test_a_bad_signature_or_certificate_is_refused_with_a_reason(admin_client, fields, error):
    if fields.pop("certificate", False):
        fields["signing_certificate"] = signer().certificate_pem
    response = upload(admin_client, **fields)
    assert response.status_code == 200  # the form again, with the error
    assert error in response.content.decode()
    assert not FirmwareFile.objects.exists()


def test_the_admin_sends_signed_firmware_to_a_1_6_station_as_signed_update_firmware(
    admin_client,
):
    station = ChargingStation.objects.create(charger_id="MNT-SIGNED", ocpp_version="1.6")
    key = signer()
    firmware = signed_firmware(IMAGE, by=key)
    response = admin_client.post(
        "/admin/maintenance/firmwareupdate/add/",
        {
            "station": station.pk,
            "firmware": firmware.pk,
            "install_at_0": "2099-01-01",
            "install_at_1": "10:00:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    update = FirmwareUpdate.objects.select_related("command").get()
    assert update.command.action == "SignedUpdateFirmware"
    payload = update.command.payload
    assert payload["requestId"] == update.request_id
    assert payload["firmware"]["signature"] == firmware.signature
    assert payload["firmware"]["signingCertificate"] == key.certificate_pem.strip()
    assert payload["firmware"]["installDateTime"].startswith("2099-01-01T")


def test_the_admin_asks_a_1_6_station_for_its_security_log_with_get_log(admin_client):
    station = ChargingStation.objects.create(charger_id="MNT-SECLOG", ocpp_version="1.6")
    response = admin_client.post(
        "/admin/maintenance/diagnosticsrequest/add/",
        {"station": station.pk, "log_type": "SecurityLog"},
        follow=True,
    )
    assert response.status_code == 200
    row = DiagnosticsRequest.objects.select_related("command").get()
    assert row.command.action == "GetLog"
    assert row.command.payload["logType"] == "SecurityLog"
    assert row.command.payload["requestId"] == row.request_id
    assert (row.log_type, row.status) == ("SecurityLog", DiagnosticsRequest.Status.FAILED)
