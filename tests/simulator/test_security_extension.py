"""The simulator speaks signed firmware and the 1.6 security extension's log messages.

Against the live server: the server sends as the admin does, the simulated charger
downloads, checks the signature with `cryptography` and reports, or uploads its log.
"""

from __future__ import annotations

import pytest

from apps.chargers.models import ChargingStation
from apps.commands.models import CommandStatus
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.diagnostics import log_request_send
from apps.maintenance.models import DiagnosticsRequest, FirmwareUpdate
from apps.maintenance.services import firmware_download_url, firmware_update_send
from tests.commands.helpers import command, wait_final
from tests.maintenance.signing import signed_firmware, signer
from tests.simulator.conftest import db, eventually, running
from tests.simulator.test_commands import firmware_reports, online

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = b"\x7fELF simulated signed firmware " + bytes(range(256)) * 8


async def update_with(server, charger_id: str, firmware) -> FirmwareUpdate:
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    sent = await server.run(
        firmware_update_send, station=station, firmware=firmware, base_url=server.http_url
    )
    assert (await wait_final(sent.pk)).status == CommandStatus.ACCEPTED
    return await db(FirmwareUpdate.objects.select_related("command").get, command=sent)


@pytest.mark.parametrize(("version", "kind"), [("1.6", "ec"), ("2.0.1", "rsa"), ("2.1", "ec")])
async def test_a_good_signature_is_verified_then_installed(asgi_server, version, kind):
    charger_id = f"SIM-SIGNED-{version}"
    firmware = await db(signed_firmware, IMAGE, by=signer(kind))
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        update = await update_with(asgi_server, charger_id, firmware)
        await eventually(
            lambda: FirmwareUpdate.objects.filter(pk=update.pk, last_status="Installed").exists(),
            what="Installed reported for the update's requestId",
        )
    expected = ["Downloading", "Downloaded", "SignatureVerified", "Installing"]
    if version != "1.6":
        expected.append("InstallRebooting")
    assert await db(firmware_reports, charger_id) == [*expected, "Installed"]
    assert update.command.action == (
        "SignedUpdateFirmware" if version == "1.6" else "UpdateFirmware"
    )
    assert charger.stats.boots == 2
    assert charger.stats.errors == 0, charger.stats.last_error


@pytest.mark.parametrize("version", ["1.6", "2.1"])
async def test_a_bad_signature_is_reported_invalid_and_not_installed(asgi_server, version):
    charger_id = f"SIM-BADSIG-{version}"
    key = signer("rsa")
    firmware = await db(signed_firmware, IMAGE, by=key, signature=key.sign(IMAGE + b"tampered"))
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        update = await update_with(asgi_server, charger_id, firmware)
        await eventually(
            lambda: FirmwareUpdate.objects.filter(
                pk=update.pk, last_status="InvalidSignature"
            ).exists(),
            what="InvalidSignature reported for the update's requestId",
        )
    assert await db(firmware_reports, charger_id) == [
        "Downloading",
        "Downloaded",
        "InvalidSignature",
    ]
    assert charger.stats.boots == 1  # nothing installed, no reboot


async def test_a_certificate_that_does_not_parse_is_answered_invalid_certificate(asgi_server):
    charger_id = "SIM-BADCERT"
    firmware = await db(signed_firmware, IMAGE, by=signer())
    async with running(asgi_server, charger_id, "1.6", mode="idle") as charger:
        await online(charger_id, charger)
        location = firmware_download_url(firmware=firmware, base_url=asgi_server.http_url)
        sent = await command(
            asgi_server,
            charger_id,
            "SignedUpdateFirmware",
            {
                "requestId": 3,
                "firmware": {
                    "location": location,
                    "retrieveDateTime": format_ocpp_datetime(utcnow()),
                    "signingCertificate": "-----BEGIN CERTIFICATE-----\nnot one\n",
                    "signature": firmware.signature,
                },
            },
        )
    assert sent.response == {"status": "InvalidCertificate"}
    assert sent.status == CommandStatus.REJECTED
    assert await db(firmware_reports, charger_id) == []


@pytest.mark.parametrize(
    ("log_type", "get_log"), [("SecurityLog", False), ("DiagnosticsLog", True)]
)
async def test_get_log_1_6_uploads_and_reports_with_log_status_notification(
    asgi_server, log_type, get_log
):
    charger_id = f"SIM-GETLOG-{log_type}"
    async with running(asgi_server, charger_id, "1.6", mode="idle") as charger:
        station = await online(charger_id, charger)
        sent = await asgi_server.run(
            log_request_send,
            station=station,
            base_url=asgi_server.http_url,
            log_type=log_type,
            get_log=get_log,
        )
        done = await wait_final(sent.pk)
        row = await eventually(
            lambda: DiagnosticsRequest.objects.filter(
                command=sent, status=DiagnosticsRequest.Status.UPLOADED, reported_status="Uploaded"
            ).first(),
            what="the log uploaded and LogStatusNotification Uploaded applied",
        )
    content = await db(lambda: row.file.read().decode())
    assert (done.action, done.response["status"]) == ("GetLog", "Accepted")
    assert row.file_name == done.response["filename"]
    assert f"charger: {charger_id}" in content
    assert charger.stats.errors == 0, charger.stats.last_error
