"""Firmware updates: upload, UpdateFirmware over a real socket, signed download links."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from asgiref.sync import async_to_sync, sync_to_async
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.models import FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_signer, firmware_updates_with_status
from apps.maintenance.services import MaintenanceError, firmware_download_url, firmware_update_send
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_v16

IMAGE = b"\x7fELF firmware image " + bytes(range(256)) * 40


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def make_firmware(content: bytes = IMAGE, name: str = "fw-2.1.bin") -> FirmwareFile:
    firmware = FirmwareFile(name="Acme AC", version="2.1")
    firmware.file.save(name, ContentFile(content), save=False)
    firmware.save()
    return firmware


async def fetch(url: str) -> requests.Response:
    return await asyncio.to_thread(requests.get, url, timeout=10)


@pytest.mark.django_db
def test_an_upload_in_the_admin_is_fingerprinted(admin_client, media_in_tmp):
    response = admin_client.post(
        "/admin/maintenance/firmwarefile/add/",
        {
            "name": "Acme AC",
            "version": "2.1",
            "file": SimpleUploadedFile("fw 2.1.bin", IMAGE),
        },
    )
    assert response.status_code == 302
    firmware = FirmwareFile.objects.get()
    assert firmware.sha256 == hashlib.sha256(IMAGE).hexdigest()
    assert firmware.size == len(IMAGE)
    assert firmware.file.name.startswith("firmware/")
    assert (media_in_tmp / firmware.file.name).read_bytes() == IMAGE
    download = admin_client.get(f"/admin/maintenance/firmwarefile/{firmware.pk}/download/")
    assert async_to_sync(read_all)(download.streaming_content) == IMAGE


async def read_all(chunks) -> bytes:
    # The body streams as an async iterator (ASGI), whatever runs the view.
    return b"".join([chunk async for chunk in chunks])


@pytest.mark.django_db(transaction=True)
async def test_update_firmware_reaches_the_charger_and_its_link_serves_the_file(asgi_server):
    firmware = await db(make_firmware)
    async with connect_v16(asgi_server.ws_url, "FW-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await db(ChargingStation.objects.get, charger_id="FW-1")
        retrieve = utcnow() + timedelta(minutes=5)
        command = await asgi_server.run(
            firmware_update_send,
            station=station,
            firmware=firmware,
            base_url=asgi_server.http_url,
            retrieve_at=retrieve,
            retries=3,
            retry_interval=60,
        )
        done = await wait_final(command.pk)
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await cp.call(call.FirmwareStatusNotification(status=status))
    assert done.status == "accepted"
    [received] = cp.received["UpdateFirmware"]
    assert received["retrieve_date"] == format_ocpp_datetime(retrieve)
    assert (received["retries"], received["retry_interval"]) == (3, 60)
    location = received["location"]
    assert location.startswith(f"{asgi_server.http_url}/files/firmware/")
    assert location.endswith("/fw-2.1.bin")

    response = await fetch(location)
    assert response.status_code == 200
    assert response.content == IMAGE
    assert response.headers["Content-Length"] == str(len(IMAGE))
    assert 'filename="fw-2.1.bin"' in response.headers["Content-Disposition"]

    update = await db(lambda: firmware_updates_with_status().get(command=command))
    assert (update.station_id, update.firmware_id) == (station.pk, firmware.pk)
    assert update.reported_status == "Installed"
    station = await db(ChargingStation.objects.get, pk=station.pk)
    assert station.firmware_status == "Installed"


@pytest.mark.django_db(transaction=True)
async def test_retrieve_date_defaults_to_now(asgi_server):
    firmware = await db(make_firmware)
    async with connect_v16(asgi_server.ws_url, "FW-NOW") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await db(ChargingStation.objects.get, charger_id="FW-NOW")
        before = utcnow()
        command = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://csms.example"
        )
        await wait_final(command.pk)
    [received] = cp.received["UpdateFirmware"]
    assert received["location"].startswith("http://csms.example/files/firmware/")
    assert "retries" not in received
    sent = received["retrieve_date"]
    assert format_ocpp_datetime(before)[:16] <= sent <= format_ocpp_datetime(utcnow())


@pytest.mark.django_db(transaction=True)
async def test_a_tampered_or_wrong_link_is_refused(asgi_server):
    firmware = await db(make_firmware)
    other = await db(make_firmware, b"other", "fw-3.0.bin")
    url = firmware_download_url(firmware=firmware, base_url=asgi_server.http_url)
    parts = urlsplit(url)
    token = parts.path.split("/")[3]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    forged = f"{other.pk}:{token.split(':', 1)[1]}"  # another file's id, this signature
    for bad in (
        url.replace(token, tampered),
        url.replace(token, forged),
        url.replace("fw-2.1.bin", "fw-3.0.bin"),
        f"{asgi_server.http_url}/files/firmware/nonsense/fw-2.1.bin",
    ):
        response = await fetch(bad)
        assert response.status_code == 404, bad
        assert "Unknown firmware download link" in response.text
        assert response.content != IMAGE
    assert (await fetch(url)).status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_an_expired_link_is_refused(asgi_server, settings):
    settings.FIRMWARE_URL_TTL = 60
    firmware = await db(make_firmware)
    signer = firmware_signer()
    # The same signed value the link carries, stamped two minutes ago.
    stamped = f"{firmware.pk}{signer.sep}{signing.b62_encode(int(time.time()) - 120)}"
    old_token = signing.Signer.sign(signer, stamped)
    url = f"{asgi_server.http_url}/files/firmware/{old_token}/{firmware.filename}"
    response = await fetch(url)
    assert response.status_code == 403
    assert "expired" in response.text
    fresh = firmware_download_url(firmware=firmware, base_url=asgi_server.http_url)
    assert (await fetch(fresh)).status_code == 200


@pytest.mark.django_db
def test_a_retrieve_date_past_the_link_lifetime_is_refused(settings):
    settings.FIRMWARE_URL_TTL = 3600
    firmware = make_firmware()
    station = ChargingStation.objects.create(charger_id="FW-LATE")
    with pytest.raises(MaintenanceError, match="expire before the retrieve date"):
        firmware_update_send(
            station=station,
            firmware=firmware,
            base_url="http://x",
            retrieve_at=utcnow() + timedelta(hours=2),
        )
    assert not FirmwareUpdate.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_each_update_shows_the_reports_sent_for_it(asgi_server):
    firmware = await db(make_firmware)
    async with connect_v16(asgi_server.ws_url, "FW-TWO") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await db(ChargingStation.objects.get, charger_id="FW-TWO")
        first = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://x"
        )
        await wait_final(first.pk)
        await cp.call(call.FirmwareStatusNotification(status="DownloadFailed"))
        second = await asgi_server.run(
            firmware_update_send, station=station, firmware=firmware, base_url="http://x"
        )
        await wait_final(second.pk)
        silent = await db(
            lambda: firmware_updates_with_status().get(command=second).reported_status
        )
        await cp.call(call.FirmwareStatusNotification(status="Downloading"))
    rows = await db(
        lambda: dict(
            firmware_updates_with_status()
            .filter(station=station)
            .values_list("command_id", "reported_status")
        )
    )
    assert silent is None
    assert rows == {first.pk: "DownloadFailed", second.pk: "Downloading"}


@pytest.mark.django_db(transaction=True)
async def test_an_offline_station_keeps_an_offline_update(asgi_server):
    firmware = await db(make_firmware)
    station = await db(ChargingStation.objects.create, charger_id="FW-OFF")
    command = await asgi_server.run(
        firmware_update_send, station=station, firmware=firmware, base_url="http://x"
    )
    assert command.status == "offline"
    assert await db(FirmwareUpdate.objects.filter(command=command).exists)
