"""Diagnostics: GetDiagnostics over a real socket, uploads to the one-off link over HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import requests
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance import diagnostics
from apps.maintenance.diagnostics import diagnostics_request_send, diagnostics_status_update
from apps.maintenance.models import DiagnosticsRequest
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

LOG = b"2025-01-31 08:15 boot\n" * 500


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def booted(cp) -> ChargingStation:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    return await db(ChargingStation.objects.get, charger_id=cp.id)


async def request_diagnostics(server, cp, **options) -> tuple[DiagnosticsRequest, str]:
    """Send GetDiagnostics as the admin does; return the stored request and the location."""
    station = await db(ChargingStation.objects.get, charger_id=cp.id)
    command = await server.run(
        diagnostics_request_send, station=station, base_url=server.http_url, **options
    )
    await wait_final(command.pk)
    row = await db(DiagnosticsRequest.objects.get, command=command)
    return row, cp.received["GetDiagnostics"][-1]["location"]


async def http(method: str, url: str, **kwargs) -> requests.Response:
    return await asyncio.to_thread(requests.request, method, url, timeout=10, **kwargs)


async def test_get_diagnostics_carries_a_location_and_keeps_the_file_name(asgi_server):
    async with connect_v16(asgi_server.ws_url, "DIAG-1") as cp:
        await booted(cp)
        cp.replies["GetDiagnostics"] = {"file_name": "station-logs.zip"}
        start, stop = utcnow() - timedelta(days=1), utcnow()
        row, location = await request_diagnostics(
            asgi_server, cp, start_time=start, stop_time=stop, retries=2, retry_interval=30
        )
    [received] = cp.received["GetDiagnostics"]
    assert location == f"{asgi_server.http_url}/files/diagnostics/{row.token}/"
    assert len(row.token) >= 40
    assert received["start_time"] == format_ocpp_datetime(start)
    assert received["stop_time"] == format_ocpp_datetime(stop)
    assert (received["retries"], received["retry_interval"]) == (2, 30)
    assert (row.status, row.file_name) == ("requested", "station-logs.zip")


async def test_a_multipart_post_is_stored_and_status_follows_the_station(asgi_server):
    async with connect_v16(asgi_server.ws_url, "DIAG-POST") as cp:
        await booted(cp)
        row, location = await request_diagnostics(asgi_server, cp)
        await cp.call(call.DiagnosticsStatusNotification(status="Uploading"))
        uploading = (await db(DiagnosticsRequest.objects.get, pk=row.pk)).status
        response = await http("POST", location, files={"anything": ("diag.zip", LOG)})
        await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        await cp.call(call.DiagnosticsStatusNotification(status="Idle"))
    assert response.status_code == 201, response.text
    assert uploading == "uploading"
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert row.status == "uploaded"
    assert row.file.name.endswith("/diag.zip")
    assert row.size == len(LOG)
    assert row.uploaded_at is not None
    assert await db(lambda: row.file.open("rb").read()) == LOG
    station = await db(ChargingStation.objects.get, pk=row.station_id)
    assert station.diagnostics_status == "Idle"


async def test_a_put_is_stored_with_the_name_from_the_url_or_header(asgi_server):
    async with connect_v16(asgi_server.ws_url, "DIAG-PUT") as cp:
        await booted(cp)
        first, location = await request_diagnostics(asgi_server, cp)
        named = await http("PUT", location + "logs-0131.tar.gz", data=LOG)
        second, location2 = await request_diagnostics(asgi_server, cp)
        headed = await http(
            "PUT",
            location2,
            data=b"short log",
            headers={"Content-Disposition": 'attachment; filename="../../etc/x.log"'},
        )
    assert (named.status_code, headed.status_code) == (201, 201), named.text + headed.text
    first = await db(DiagnosticsRequest.objects.get, pk=first.pk)
    second = await db(DiagnosticsRequest.objects.get, pk=second.pk)
    assert first.file.name == f"diagnostics/{first.station_id}/logs-0131.tar.gz"
    assert await db(lambda: first.file.open("rb").read()) == LOG
    assert second.file.name == f"diagnostics/{second.station_id}/x.log"  # no path escapes
    assert (second.status, second.size) == ("uploaded", 9)


async def test_a_retried_upload_replaces_the_file(asgi_server, media_in_tmp):
    async with connect_v16(asgi_server.ws_url, "DIAG-RETRY") as cp:
        await booted(cp)
        row, location = await request_diagnostics(asgi_server, cp)
        await http("POST", location, files={"file": ("part.log", b"half")})
        await http("POST", location, files={"file": ("whole.log", LOG)})
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert row.file.name.endswith("/whole.log")
    assert [p.name for p in (media_in_tmp / "diagnostics").rglob("*.log")] == ["whole.log"]


async def test_bad_expired_and_oversized_uploads_are_refused(asgi_server, monkeypatch):
    async with connect_v16(asgi_server.ws_url, "DIAG-BAD") as cp:
        await booted(cp)
        row, location = await request_diagnostics(asgi_server, cp)
        other = ("y" if row.token[0] == "x" else "x") + row.token[1:]  # never the same link
        unknown = await http("POST", location.replace(row.token, other), data=LOG)
        wrong_method = await http("GET", location)
        two_files = await http("POST", location, files={"a": ("a.log", b"a"), "b": ("b.log", b"b")})
        empty = await http("PUT", location, data=b"")
        monkeypatch.setattr(diagnostics, "MAX_UPLOAD_BYTES", 1000)
        too_big = await http("PUT", location, data=LOG)
        too_big_post = await http("POST", location, files={"f": ("big.log", LOG)})
        monkeypatch.undo()
        await db(
            DiagnosticsRequest.objects.filter(pk=row.pk).update,
            created_at=utcnow() - timedelta(days=30),
        )
        expired = await http("POST", location, files={"f": ("late.log", LOG)})
    assert (unknown.status_code, unknown.text.strip()) == (404, "Unknown upload link.")
    assert wrong_method.status_code == 405
    assert two_files.status_code == 400
    assert empty.status_code == 400
    assert (too_big.status_code, too_big_post.status_code) == (413, 413)
    assert expired.status_code == 403
    assert "expired" in expired.text
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert row.status == "requested"
    assert not row.file


async def test_a_failed_upload_and_an_empty_answer_are_failures(asgi_server):
    async with connect_v16(asgi_server.ws_url, "DIAG-FAIL") as cp:
        await booted(cp)
        failed, _ = await request_diagnostics(asgi_server, cp)
        await cp.call(call.DiagnosticsStatusNotification(status="UploadFailed"))
        cp.replies["GetDiagnostics"] = {}  # no fileName: nothing to upload
        nothing, _ = await request_diagnostics(asgi_server, cp)
    failed = await db(DiagnosticsRequest.objects.get, pk=failed.pk)
    assert failed.status == "failed"
    assert (nothing.status, nothing.file_name) == ("failed", "")


async def test_an_offline_station_fails_the_request_at_once(asgi_server):
    station = await db(ChargingStation.objects.create, charger_id="DIAG-OFF")
    command = await asgi_server.run(
        diagnostics_request_send, station=station, base_url=asgi_server.http_url
    )
    assert command.status == "offline"
    # A status report of that station does not land on a request it never received.
    assert await db(diagnostics_status_update, station_id=station.pk, status="Uploaded") is None
    row = await db(DiagnosticsRequest.objects.get, command=command)
    assert row.status == "failed"
