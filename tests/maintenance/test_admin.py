"""The maintenance admin sends through the services and serves stored files to staff."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile

from apps.chargers.models import ChargingStation
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate

pytestmark = pytest.mark.django_db


async def read_all(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_the_firmware_update_form_sends_update_firmware(admin_client, settings):
    settings.PUBLIC_URL = "https://csms.example.org"
    station = ChargingStation.objects.create(charger_id="MNT-FW")
    firmware = FirmwareFile(name="Acme", version="3")
    firmware.file.save("fw-3.bin", ContentFile(b"image"), save=False)
    firmware.save()
    response = admin_client.post(
        "/admin/maintenance/firmwareupdate/add/",
        {"station": station.pk, "firmware": firmware.pk, "retries": "2"},
        follow=True,
    )
    assert response.status_code == 200
    update = FirmwareUpdate.objects.select_related("command").get()
    assert update.command.action == "UpdateFirmware"
    assert update.command.status == "offline"
    assert update.command.payload["retries"] == 2
    assert update.command.payload["location"].startswith("https://csms.example.org/files/firmware/")
    assert "UpdateFirmware to MNT-FW: offline" in response.content.decode()
    listing = admin_client.get("/admin/maintenance/firmwareupdate/")
    assert listing.status_code == 200


def test_the_diagnostics_form_sends_get_diagnostics_and_staff_can_download(admin_client):
    station = ChargingStation.objects.create(charger_id="MNT-DIAG")
    response = admin_client.post(
        "/admin/maintenance/diagnosticsrequest/add/",
        {"station": station.pk},
        follow=True,
    )
    assert response.status_code == 200
    row = DiagnosticsRequest.objects.select_related("command").get()
    assert row.command.action == "GetDiagnostics"
    # No PUBLIC_URL: the link is built from the operator's request.
    assert row.command.payload["location"] == f"http://testserver/files/diagnostics/{row.token}/"
    row.file.save("station.log", ContentFile(b"log lines"))
    page = admin_client.get(f"/admin/maintenance/diagnosticsrequest/{row.pk}/change/")
    download_url = f"/admin/maintenance/diagnosticsrequest/{row.pk}/download/"
    assert download_url in page.content.decode()
    download = admin_client.get(download_url)
    assert async_to_sync(read_all)(download.streaming_content) == b"log lines"


def test_downloads_need_a_staff_login(client):
    station = ChargingStation.objects.create(charger_id="MNT-ANON")
    row = DiagnosticsRequest.objects.create(station=station, token="t" * 43)
    row.file.save("secret.log", ContentFile(b"secret"))
    response = client.get(f"/admin/maintenance/diagnosticsrequest/{row.pk}/download/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
