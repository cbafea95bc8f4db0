"""Logs from OCPP 2.0.1 and 2.1 stations: GetLog, uploads to its link, LogStatusNotification."""

from __future__ import annotations

import asyncio
import importlib
from datetime import timedelta

import pytest
import requests
from asgiref.sync import sync_to_async
from ocpp.v16 import call as v16_call

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.diagnostics import diagnostics_request_send, log_request_send
from apps.maintenance.models import DiagnosticsRequest
from apps.maintenance.services import MaintenanceError
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger, connect_v16

pytestmark = pytest.mark.django_db(transaction=True)
VERSIONS = pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])

LOG = b"2026-11-27 10:00 EVSE 1 fault cleared\n" * 400


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def messages(version: str):
    return importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")


async def boot(cp, version: str) -> ChargingStation:
    await cp.call(
        messages(version).BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
        )
    )
    return await db(ChargingStation.objects.get, charger_id=cp.id)


async def request_log(server, cp, **options) -> tuple[DiagnosticsRequest, dict]:
    """Send GetLog as the admin does; return the stored request and what the station got."""
    station = await db(ChargingStation.objects.get, charger_id=cp.id)
    command = await server.run(
        log_request_send, station=station, base_url=server.http_url, **options
    )
    await wait_final(command.pk)
    row = await db(DiagnosticsRequest.objects.select_related("command").get, command=command)
    return row, cp.received["GetLog"][-1]


async def http(method: str, url: str, **kwargs) -> requests.Response:
    return await asyncio.to_thread(requests.request, method, url, timeout=10, **kwargs)


@VERSIONS
async def test_get_log_uploads_by_post_and_status_follows_the_station(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, f"LOG2-POST-{version}", version) as cp:
        await boot(cp, version)
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "evse-logs.tar.gz"}
        oldest, latest = utcnow() - timedelta(days=2), utcnow()
        row, received = await request_log(
            asgi_server, cp, oldest=oldest, latest=latest, retries=2, retry_interval=30
        )
        await cp.call(call.LogStatusNotification(status="Uploading", request_id=row.request_id))
        uploading = (await db(DiagnosticsRequest.objects.get, pk=row.pk)).status
        location = received["log"]["remote_location"]
        response = await http("POST", location, files={"file": ("evse-logs.tar.gz", LOG)})
        await cp.call(call.LogStatusNotification(status="Uploaded", request_id=row.request_id))
    assert received == {
        "log_type": "DiagnosticsLog",
        "request_id": row.request_id,
        "log": {
            "remote_location": f"{asgi_server.http_url}/files/diagnostics/{row.token}/",
            "oldest_timestamp": format_ocpp_datetime(oldest),
            "latest_timestamp": format_ocpp_datetime(latest),
        },
        "retries": 2,
        "retry_interval": 30,
    }
    assert len(row.token) >= 40
    assert (row.command.action, row.log_type, row.file_name) == (
        "GetLog",
        "DiagnosticsLog",
        "evse-logs.tar.gz",
    )
    assert uploading == "uploading"
    assert response.status_code == 201, response.text
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert (row.status, row.reported_status, row.size) == ("uploaded", "Uploaded", len(LOG))
    assert row.file.name == f"diagnostics/{row.station_id}/evse-logs.tar.gz"
    assert await db(lambda: row.file.open("rb").read()) == LOG


@VERSIONS
async def test_a_put_to_the_remote_location_is_named_after_the_answer(asgi_server, version):
    async with connect_charger(asgi_server.ws_url, f"LOG2-PUT-{version}", version) as cp:
        await boot(cp, version)
        cp.replies["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        row, received = await request_log(asgi_server, cp, log_type="SecurityLog")
        response = await http("PUT", received["log"]["remote_location"], data=LOG)
    assert response.status_code == 201, response.text
    assert received["log_type"] == "SecurityLog"
    assert "oldest_timestamp" not in received["log"]
    row = await db(DiagnosticsRequest.objects.get, pk=row.pk)
    assert (row.log_type, row.status) == ("SecurityLog", "uploaded")
    assert row.file.name == f"diagnostics/{row.station_id}/security.log"
    assert await db(lambda: row.file.open("rb").read()) == LOG


@VERSIONS
async def test_refusals_and_failures_fail_the_request(asgi_server, version):
    call = messages(version)
    async with connect_charger(asgi_server.ws_url, f"LOG2-FAIL-{version}", version) as cp:
        await boot(cp, version)
        cp.replies["GetLog"] = {"status": "Rejected"}
        rejected, _ = await request_log(asgi_server, cp)
        cp.replies["GetLog"] = {"status": "Accepted"}  # no filename: no log available
        nothing, _ = await request_log(asgi_server, cp)
        cp.replies.pop("GetLog")
        reported = {}
        for status in ("UploadFailure", "PermissionDenied", "BadMessage", "NotSupportedOperation"):
            row, _ = await request_log(asgi_server, cp)
            await cp.call(call.LogStatusNotification(status=status, request_id=row.request_id))
            reported[status] = row.pk
        idle, _ = await request_log(asgi_server, cp)
        await cp.call(call.LogStatusNotification(status="Idle"))
    assert (rejected.status, rejected.command.status) == ("failed", "rejected")
    assert (nothing.status, nothing.file_name) == ("failed", "")
    rows = await db(
        lambda: {
            pk: (r.status, r.reported_status)
            for pk, r in DiagnosticsRequest.objects.in_bulk(list(reported.values())).items()
        }
    )
    assert {status: rows[pk] for status, pk in reported.items()} == {
        status: ("failed", status) for status in reported
    }
    idle = await db(DiagnosticsRequest.objects.get, pk=idle.pk)
    assert (idle.status, idle.file_name) == ("requested", "log.tar.gz")
    request_ids = await db(
        lambda: list(DiagnosticsRequest.objects.values_list("request_id", flat=True))
    )
    assert len(set(request_ids)) == len(request_ids) == 7


@VERSIONS
async def test_accepted_canceled_cancels_the_upload_it_replaces(asgi_server, version):
    async with connect_charger(asgi_server.ws_url, f"LOG2-CANCEL-{version}", version) as cp:
        await boot(cp, version)
        first, _ = await request_log(asgi_server, cp)
        cp.replies["GetLog"] = {"status": "AcceptedCanceled", "filename": "newer.log"}
        second, _ = await request_log(asgi_server, cp)
    first = await db(DiagnosticsRequest.objects.get, pk=first.pk)
    assert first.status == "cancelled"
    assert (second.status, second.file_name, second.command.status) == (
        "requested",
        "newer.log",
        "accepted",
    )


@VERSIONS
async def test_data_collector_logs_are_2_1_only(asgi_server, version):
    async with connect_charger(asgi_server.ws_url, f"LOG2-DC-{version}", version) as cp:
        await boot(cp, version)
        if version == "ocpp2.1":
            row, received = await request_log(asgi_server, cp, log_type="DataCollectorLog")
            assert (received["log_type"], row.log_type) == ("DataCollectorLog", "DataCollectorLog")
        else:
            station = await db(ChargingStation.objects.get, charger_id=cp.id)
            with pytest.raises(MaintenanceError, match="invalid payload"):
                await asgi_server.run(
                    log_request_send,
                    station=station,
                    base_url=asgi_server.http_url,
                    log_type="DataCollectorLog",
                )
            assert not await db(DiagnosticsRequest.objects.exists)


@VERSIONS
async def test_an_offline_station_fails_the_request_and_get_diagnostics_is_refused(
    asgi_server, version
):
    station = await db(
        ChargingStation.objects.create, charger_id=f"LOG2-OFF-{version}", ocpp_version=version
    )
    command = await asgi_server.run(
        log_request_send, station=station, base_url="http://csms.example"
    )
    row = await db(DiagnosticsRequest.objects.get, command=command)
    assert (command.action, command.status, row.status) == ("GetLog", "offline", "failed")
    assert command.payload["requestId"] == row.request_id
    with pytest.raises(MaintenanceError, match="GetLog"):
        await asgi_server.run(diagnostics_request_send, station=station, base_url="http://x")
    assert await db(DiagnosticsRequest.objects.count) == 1


async def test_a_1_6_station_gets_get_diagnostics_for_a_diagnostics_log(asgi_server):
    async with connect_v16(asgi_server.ws_url, "LOG16") as cp:
        await cp.call(v16_call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await db(ChargingStation.objects.get, charger_id="LOG16")
        oldest = utcnow() - timedelta(hours=3)
        command = await asgi_server.run(
            log_request_send, station=station, base_url=asgi_server.http_url, oldest=oldest
        )
        await wait_final(command.pk)
        # 1.6 has no data collector log (a SecurityLog is the security extension's GetLog:
        # tests/maintenance/test_v16_security_extension.py).
        with pytest.raises(MaintenanceError, match="DiagnosticsLog, SecurityLog"):
            await asgi_server.run(
                log_request_send,
                station=station,
                base_url=asgi_server.http_url,
                log_type="DataCollectorLog",
            )
    [received] = cp.received["GetDiagnostics"]
    row = await db(DiagnosticsRequest.objects.get, command=command)
    assert received == {
        "location": f"{asgi_server.http_url}/files/diagnostics/{row.token}/",
        "start_time": format_ocpp_datetime(oldest),
    }
    assert (row.log_type, row.request_id, row.file_name) == ("", None, "diagnostics.zip")


@pytest.mark.django_db
def test_the_admin_form_sends_get_log_to_a_2x_station(admin_client):
    station = ChargingStation.objects.create(charger_id="LOG2-ADMIN", ocpp_version="ocpp2.1")
    response = admin_client.post(
        "/admin/maintenance/diagnosticsrequest/add/",
        {"station": station.pk, "log_type": "SecurityLog"},
        follow=True,
    )
    assert response.status_code == 200
    row = DiagnosticsRequest.objects.select_related("command").get()
    assert (row.command.action, row.command.payload["logType"]) == ("GetLog", "SecurityLog")
    assert row.command.payload["log"]["remoteLocation"] == (
        f"http://testserver/files/diagnostics/{row.token}/"
    )
    assert "GetLog to LOG2-ADMIN: offline" in response.content.decode()
    listing = admin_client.get("/admin/maintenance/diagnosticsrequest/")
    assert "SecurityLog" in listing.content.decode()
