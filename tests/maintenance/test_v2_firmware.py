"""Firmware updates for OCPP 2.0.1 and 2.1 stations: UpdateFirmware with a requestId."""

from __future__ import annotations

import asyncio
import importlib
from datetime import timedelta

import pytest
import requests
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.models import FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_updates_with_status
from apps.maintenance.services import firmware_update_send
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"]),
]

IMAGE = b"\x7fELF firmware image 2.x " + bytes(range(256)) * 40


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def messages(version: str):
    return importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")


def make_firmware() -> FirmwareFile:
    firmware = FirmwareFile(name="Acme DC", version="4.0")
    firmware.file.save("fw-4.0.bin", ContentFile(IMAGE), save=False)
    firmware.save()
    return firmware


async def boot(cp, version: str) -> ChargingStation:
    await cp.call(
        messages(version).BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
        )
    )
    return await db(ChargingStation.objects.get, charger_id=cp.id)


async def send_update(server, station, firmware, **options):
    command = await server.run(
        firmware_update_send,
        station=station,
        firmware=firmware,
        base_url=server.http_url,
        **options,
    )
    return await wait_final(command.pk)


async def test_update_firmware_carries_a_request_id_and_a_link_that_serves_the_file(
    asgi_server, version
):
    call = messages(version)
    firmware = await db(make_firmware)
    async with connect_charger(asgi_server.ws_url, f"FW2-{version}", version) as cp:
        station = await boot(cp, version)
        retrieve = utcnow() + timedelta(minutes=5)
        done = await send_update(
            asgi_server, station, firmware, retrieve_at=retrieve, retries=3, retry_interval=60
        )
        update = await db(FirmwareUpdate.objects.get, command=done)
        for status in ("Downloading", "Downloaded", "Installing"):
            await cp.call(
                call.FirmwareStatusNotification(status=status, request_id=update.request_id)
            )
        # A triggered report names no request: it is the station's status, no update's.
        await cp.call(call.FirmwareStatusNotification(status="Idle"))
    assert done.status == "accepted"
    [received] = cp.received["UpdateFirmware"]
    location = received["firmware"]["location"]
    assert received == {
        "request_id": update.request_id,
        "firmware": {"location": location, "retrieve_date_time": format_ocpp_datetime(retrieve)},
        "retries": 3,
        "retry_interval": 60,
    }
    assert 1 <= update.request_id <= 2**31 - 1
    assert location.startswith(f"{asgi_server.http_url}/files/firmware/")
    assert location.endswith("/fw-4.0.bin")

    response = await asyncio.to_thread(requests.get, location, timeout=10)
    assert response.status_code == 200
    assert response.content == IMAGE

    update = await db(lambda: firmware_updates_with_status().get(pk=update.pk))
    assert (update.last_status, update.reported_status) == ("Installing", "Installing")
    assert update.reported_at == update.last_status_at is not None
    station = await db(ChargingStation.objects.get, pk=station.pk)
    assert station.firmware_status == "Idle"


async def test_each_report_lands_on_the_update_it_names(asgi_server, version):
    call = messages(version)
    firmware = await db(make_firmware)
    async with connect_charger(asgi_server.ws_url, f"FW2-TWO-{version}", version) as cp:
        station = await boot(cp, version)
        first = await send_update(asgi_server, station, firmware)
        second = await send_update(asgi_server, station, firmware)
        first_id, second_id = [r["request_id"] for r in cp.received["UpdateFirmware"]]
        silent = await db(
            lambda: firmware_updates_with_status().get(command=second).reported_status
        )
        # Out of order on purpose: the request id, not the time, decides.
        await cp.call(call.FirmwareStatusNotification(status="Installed", request_id=second_id))
        await cp.call(call.FirmwareStatusNotification(status="DownloadFailed", request_id=first_id))
        await cp.call(call.FirmwareStatusNotification(status="Downloading", request_id=999))
    assert first_id != second_id
    assert silent is None
    rows = await db(
        lambda: dict(
            firmware_updates_with_status()
            .filter(station=station)
            .values_list("command_id", "reported_status")
        )
    )
    assert rows == {first.pk: "DownloadFailed", second.pk: "Installed"}


async def test_an_offline_station_keeps_the_2x_update(asgi_server, version):
    firmware = await db(make_firmware)
    station = await db(
        ChargingStation.objects.create, charger_id=f"FW2-OFF-{version}", ocpp_version=version
    )
    command = await asgi_server.run(
        firmware_update_send, station=station, firmware=firmware, base_url="http://x"
    )
    update = await db(FirmwareUpdate.objects.get, command=command)
    assert command.status == "offline"
    assert command.payload["requestId"] == update.request_id
    assert command.payload["firmware"]["location"].startswith("http://x/files/firmware/")
