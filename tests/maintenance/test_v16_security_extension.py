"""The OCPP 1.6 security extension's firmware and log messages, over a real socket.

SignedUpdateFirmware / SignedFirmwareStatusNotification and GetLog / LogStatusNotification,
with the `ocpp` library's 1.6 charge point as the station; and 2.x UpdateFirmware carrying
a signed image's signature.
"""

from __future__ import annotations

import asyncio
import importlib

import pytest
import requests
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, StationReport
from apps.maintenance.diagnostics import log_request_send
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_updates_with_status
from apps.maintenance.services import firmware_update_send
from tests.commands.helpers import wait_final
from tests.maintenance.signing import signed_firmware, signer
from tests.ocpp.charger import connect_charger, connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = b"\x7fELF signed firmware " + bytes(range(256)) * 16
LOG = b"2026-12-04 security log: tamper switch closed\n" * 50


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def boot16(cp) -> ChargingStation:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    return await db(ChargingStation.objects.get, charger_id=cp.id)


def reports(station: ChargingStation, kind: str) -> list[str]:
    return list(
        StationReport.objects.filter(station=station, kind=kind)
        .order_by("received_at", "id")
        .values_list("status", flat=True)
    )


async def test_signed_firmware_goes_as_signed_update_firmware_and_its_reports_land(asgi_server):
    key = signer()
    firmware = await db(signed_firmware, IMAGE, by=key)
    async with connect_v16(asgi_server.ws_url, "SEC16-FW") as cp:
        station = await boot16(cp)
        command = await asgi_server.run(
            firmware_update_send,
            station=station,
            firmware=firmware,
            base_url=asgi_server.http_url,
            retries=2,
        )
        done = await wait_final(command.pk)
        update = await db(FirmwareUpdate.objects.get, command=command)
        for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing"):
            result = await cp.call(
                call.SignedFirmwareStatusNotification(status=status, request_id=update.request_id)
            )
            assert result is not None  # answered with a CALLRESULT, not a CALLERROR
        # A report naming another request changes no update.
        await cp.call(call.SignedFirmwareStatusNotification(status="Installed", request_id=7))
    assert (done.action, done.status) == ("SignedUpdateFirmware", "accepted")
    assert cp.received["UpdateFirmware"] == []
    [received] = cp.received["SignedUpdateFirmware"]
    image = received["firmware"]
    assert received["request_id"] == update.request_id
    assert received["retries"] == 2
    assert image["signature"] == firmware.signature
    assert image["signing_certificate"] == key.certificate_pem.strip()
    response = await asyncio.to_thread(requests.get, image["location"], timeout=10)
    assert response.content == IMAGE
    update = await db(lambda: firmware_updates_with_status().get(pk=update.pk))
    assert (update.last_status, update.reported_status) == ("Installing", "Installing")
    assert await db(reports, station, StationReport.Kind.FIRMWARE) == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ]


async def test_an_invalid_signature_reported_by_the_station_lands_on_its_update(asgi_server):
    key = signer("rsa")
    firmware = await db(signed_firmware, IMAGE, by=key, signature=key.sign(b"another image"))
    async with connect_v16(asgi_server.ws_url, "SEC16-BADSIG") as cp:
        station = await boot16(cp)
        command = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://x"
        )
        await wait_final(command.pk)
        update = await db(FirmwareUpdate.objects.get, command=command)
        await cp.call(
            call.SignedFirmwareStatusNotification(
                status="InvalidSignature", request_id=update.request_id
            )
        )
    update = await db(FirmwareUpdate.objects.get, pk=update.pk)
    station = await db(ChargingStation.objects.get, pk=station.pk)
    assert update.last_status == station.firmware_status == "InvalidSignature"


async def test_an_unsigned_image_still_goes_as_update_firmware_to_a_1_6_station(asgi_server):
    def unsigned() -> FirmwareFile:
        firmware = FirmwareFile(name="Plain", version="1")
        firmware.file.save("fw-1.bin", ContentFile(IMAGE), save=False)
        firmware.save()
        return firmware

    firmware = await db(unsigned)
    async with connect_v16(asgi_server.ws_url, "SEC16-PLAIN") as cp:
        station = await boot16(cp)
        command = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://x"
        )
        await wait_final(command.pk)
    assert (command.action, len(cp.received["UpdateFirmware"])) == ("UpdateFirmware", 1)
    assert cp.received["SignedUpdateFirmware"] == []
    assert (await db(FirmwareUpdate.objects.get, command=command)).request_id is None


@pytest.mark.parametrize(
    ("log_type", "get_log"), [("SecurityLog", False), ("DiagnosticsLog", True)]
)
async def test_get_log_1_6_uploads_and_its_log_status_notifications_land(
    asgi_server, log_type, get_log
):
    async with connect_v16(asgi_server.ws_url, f"SEC16-LOG-{log_type}") as cp:
        station = await boot16(cp)
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        command = await asgi_server.run(
            log_request_send,
            station=station,
            base_url=asgi_server.http_url,
            log_type=log_type,
            get_log=get_log,
        )
        done = await wait_final(command.pk)
        row = await db(DiagnosticsRequest.objects.get, command=command)
        await cp.call(call.LogStatusNotification(status="Uploading", request_id=row.request_id))
        uploading = await db(DiagnosticsRequest.objects.get, pk=row.pk)
        [received] = cp.received["GetLog"]
        posted = await asyncio.to_thread(
            requests.post,
            received["log"]["remote_location"],
            files={"file": ("security.log", LOG)},
            timeout=10,
        )
        await cp.call(call.LogStatusNotification(status="Uploaded", request_id=row.request_id))
    assert (done.action, done.status) == ("GetLog", "accepted")
    assert cp.received["GetDiagnostics"] == []
    assert received["log_type"] == log_type
    assert received["request_id"] == row.request_id is not None
    assert uploading.status == DiagnosticsRequest.Status.UPLOADING
    assert posted.status_code == 201
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert (row.log_type, row.file_name, row.reported_status, row.status) == (
        log_type,
        "security.log",
        "Uploaded",
        DiagnosticsRequest.Status.UPLOADED,
    )
    assert await db(lambda: row.file.read()) == LOG
    assert await db(reports, station, StationReport.Kind.DIAGNOSTICS) == ["Uploading", "Uploaded"]


async def test_a_rejected_1_6_get_log_fails_its_request(asgi_server):
    async with connect_v16(asgi_server.ws_url, "SEC16-LOG-NO") as cp:
        station = await boot16(cp)
        cp.replies["GetLog"] = {"status": "Rejected"}
        command = await asgi_server.run(
            log_request_send, station=station, base_url="http://x", log_type="SecurityLog"
        )
        await wait_final(command.pk)
    row = await db(DiagnosticsRequest.objects.get, command=command)
    assert row.status == DiagnosticsRequest.Status.FAILED


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_2x_update_firmware_carries_the_signature_of_a_signed_image(asgi_server, version):
    messages = importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")
    key = signer()
    firmware = await db(signed_firmware, IMAGE, by=key)
    async with connect_charger(asgi_server.ws_url, f"SEC2-FW-{version}", version) as cp:
        await cp.call(
            messages.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        station = await db(ChargingStation.objects.get, charger_id=cp.id)
        command = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://x"
        )
        done = await wait_final(command.pk)
        update = await db(FirmwareUpdate.objects.get, command=command)
        await cp.call(
            messages.FirmwareStatusNotification(
                status="InvalidSignature", request_id=update.request_id
            )
        )
    assert (done.action, done.status) == ("UpdateFirmware", "accepted")
    [received] = cp.received["UpdateFirmware"]
    assert received["firmware"]["signature"] == firmware.signature
    assert received["firmware"]["signing_certificate"] == key.certificate_pem.strip()
    update = await db(FirmwareUpdate.objects.get, pk=update.pk)
    assert update.last_status == "InvalidSignature"
