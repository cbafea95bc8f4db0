"""Simulated chargers answer the CSMS's commands, sent the way the admin and API send them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from apps.chargers.models import ChargingStation, Connector, StationReport, StatusEvent
from apps.commands.models import CommandStatus
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.devicemodel.models import DeviceReport, DeviceVariable
from apps.maintenance.diagnostics import diagnostics_request_send
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile
from apps.maintenance.services import firmware_download_url, firmware_update_send
from apps.security.services import station_password_rotate, station_password_set
from apps.transactions.models import Transaction
from tests.commands.helpers import command, wait_final
from tests.simulator.conftest import VERSIONS, db, eventually, running, until

pytestmark = pytest.mark.django_db(transaction=True)

V2 = ["2.0.1", "2.1"]
IMAGE = b"\x7fELF simulated firmware " + bytes(range(256)) * 8


async def online(charger_id: str, charger: Any) -> ChargingStation:
    """Wait until the simulated charger has booted and reported its connectors."""
    await until(lambda: charger.accepted, what=f"{charger_id} booted")
    return await eventually(
        lambda: (
            ChargingStation.objects.filter(charger_id=charger_id, is_connected=True).first()
            if StatusEvent.objects.filter(station__charger_id=charger_id, connector_id=1).exists()
            else None
        ),
        what=f"{charger_id} connected with its status reported",
    )


def make_firmware() -> FirmwareFile:
    firmware = FirmwareFile(name="Simulated", version="2.1")
    firmware.file.save("fw-2.1.bin", ContentFile(IMAGE), save=False)
    firmware.save()
    return firmware


def firmware_reports(charger_id: str) -> list[str]:
    return list(
        StationReport.objects.filter(
            station__charger_id=charger_id, kind=StationReport.Kind.FIRMWARE
        )
        .order_by("received_at", "id")
        .values_list("status", flat=True)
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_then_remote_stop_make_a_transaction(asgi_server, id_tag, version):
    charger_id = f"SIM-REMOTE-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        if version == "1.6":
            start = await command(
                asgi_server,
                charger_id,
                "RemoteStartTransaction",
                {"idTag": id_tag, "connectorId": 1},
            )
        else:
            start = await command(
                asgi_server,
                charger_id,
                "RequestStartTransaction",
                {"idToken": {"idToken": id_tag, "type": "ISO14443"}, "remoteStartId": 42},
            )
        assert start.status == CommandStatus.ACCEPTED
        tx = await eventually(
            lambda: Transaction.objects.filter(station__charger_id=charger_id).first(),
            what="a transaction",
        )
        # A second start finds no free connector.
        if version == "1.6":
            again = await command(
                asgi_server, charger_id, "RemoteStartTransaction", {"idTag": id_tag}
            )
            stop = await command(
                asgi_server,
                charger_id,
                "RemoteStopTransaction",
                {"transactionId": int(tx.transaction_id)},
            )
        else:
            again = await command(
                asgi_server,
                charger_id,
                "RequestStartTransaction",
                {"idToken": {"idToken": id_tag, "type": "ISO14443"}, "remoteStartId": 43},
            )
            stop = await command(
                asgi_server,
                charger_id,
                "RequestStopTransaction",
                {"transactionId": tx.transaction_id},
            )
        assert again.status == CommandStatus.REJECTED
        assert stop.status == CommandStatus.ACCEPTED
        tx = await eventually(
            lambda: Transaction.objects.filter(pk=tx.pk, stopped_at__isnull=False).first(),
            what="the transaction stopped",
        )
    assert tx.id_tag == id_tag
    assert tx.stop_reason == "Remote"
    assert tx.energy_wh is not None and tx.energy_wh >= 0
    if version != "1.6":
        assert tx.remote_start_id == 42
    assert charger.stats.errors == 0, charger.stats.last_error


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reset_makes_it_reconnect_and_boot_again(asgi_server, version):
    charger_id = f"SIM-RESET-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        station = await online(charger_id, charger)
        reset_type = "Soft" if version == "1.6" else "Immediate"
        reset = await command(asgi_server, charger_id, "Reset", {"type": reset_type})
        assert reset.status == CommandStatus.ACCEPTED
        rebooted = await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, last_boot_at__gt=station.last_boot_at, is_connected=True
            ).first(),
            what="a second boot",
        )
    assert charger.stats.connections == 2
    assert charger.stats.boots == 2
    if version != "1.6":
        assert rebooted.last_boot_reason == "RemoteReset"
    assert charger.stats.errors == 0, charger.stats.last_error


async def test_a_1_6_configuration_round_trips_through_the_key_store(asgi_server):
    charger_id = "SIM-CONFIG-1.6"
    async with running(asgi_server, charger_id, "1.6", mode="idle", connectors=2) as charger:
        await online(charger_id, charger)
        changed = await command(
            asgi_server,
            charger_id,
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "15"},
        )
        readonly = await command(
            asgi_server,
            charger_id,
            "ChangeConfiguration",
            {"key": "NumberOfConnectors", "value": "5"},
        )
        invalid = await command(
            asgi_server,
            charger_id,
            "ChangeConfiguration",
            {"key": "HeartbeatInterval", "value": "x"},
        )
        unknown = await command(
            asgi_server, charger_id, "ChangeConfiguration", {"key": "NoSuchKey", "value": "1"}
        )
        read = await command(
            asgi_server,
            charger_id,
            "GetConfiguration",
            {"key": ["MeterValueSampleInterval", "NumberOfConnectors", "NoSuchKey"]},
        )
        everything = await command(asgi_server, charger_id, "GetConfiguration", {})
    assert changed.response == {"status": "Accepted"}
    assert readonly.response == {"status": "Rejected"}
    assert invalid.response == {"status": "Rejected"}
    assert unknown.response == {"status": "NotSupported"}
    assert read.response == {
        "configurationKey": [
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "15"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        ],
        "unknownKey": ["NoSuchKey"],
    }
    keys = {entry["key"]: entry for entry in everything.response["configurationKey"]}
    assert keys["HeartbeatInterval"]["value"] == "300"  # from the BootNotification answer
    assert "value" not in keys["AuthorizationKey"]  # write-only
    assert charger.meter_interval == 15


@pytest.mark.parametrize("version", V2)
async def test_2_x_variables_round_trip_through_the_device_model(asgi_server, version):
    charger_id = f"SIM-VARS-{version}"
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    identity = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}
    unknown_variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}}
    unknown_component = {"component": {"name": "NoCtrlr"}, "variable": {"name": "Nope"}}
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        written = await command(
            asgi_server,
            charger_id,
            "SetVariables",
            {
                "setVariableData": [
                    {**heartbeat, "attributeValue": "120"},
                    {**identity, "attributeValue": "other"},
                    {**unknown_variable, "attributeValue": "1"},
                    {**unknown_component, "attributeValue": "1"},
                ]
            },
        )
        read = await command(
            asgi_server,
            charger_id,
            "GetVariables",
            {"getVariableData": [heartbeat, identity, unknown_variable]},
        )
        report = await command(
            asgi_server,
            charger_id,
            "GetBaseReport",
            {"requestId": 9, "reportBase": "FullInventory"},
        )
        assert report.status == CommandStatus.ACCEPTED
        stored = await eventually(
            lambda: DeviceReport.objects.filter(
                station__charger_id=charger_id, request_id=9, complete=True
            ).exists(),
            what="the NotifyReport",
        )
    statuses = [r["attributeStatus"] for r in written.response["setVariableResult"]]
    assert statuses == ["Accepted", "Rejected", "UnknownVariable", "UnknownComponent"]
    results = read.response["getVariableResult"]
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Accepted", "UnknownVariable"]
    assert results[0]["attributeValue"] == "120"
    assert results[1]["attributeValue"] == charger_id
    assert stored
    evse_power = await db(
        lambda: DeviceVariable.objects.get(
            station__charger_id=charger_id, component="EVSE", evse_id=1, variable="Power"
        )
    )
    assert evse_power.mutability == "ReadOnly"
    assert evse_power.value == "22080"


@pytest.mark.parametrize("version", VERSIONS)
async def test_trigger_message_status_notification_sends_one(asgi_server, version):
    charger_id = f"SIM-TRIGGER-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        station = await online(charger_id, charger)
        before = await db(StatusEvent.objects.filter(station=station, connector_id=1).count)
        payload = {"requestedMessage": "StatusNotification"}
        payload.update({"connectorId": 1} if version == "1.6" else {"evse": {"id": 1}})
        triggered = await command(asgi_server, charger_id, "TriggerMessage", payload)
        assert triggered.response == {"status": "Accepted"}
        await eventually(
            lambda: StatusEvent.objects.filter(station=station, connector_id=1).count() > before,
            what="a new StatusNotification",
        )
        heartbeat = await command(
            asgi_server, charger_id, "TriggerMessage", {"requestedMessage": "Heartbeat"}
        )
        assert heartbeat.response == {"status": "Accepted"}
        await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, last_heartbeat_at__isnull=False
            ).exists(),
            what="a heartbeat",
        )
    assert charger.stats.errors == 0, charger.stats.last_error


async def test_update_firmware_1_6_downloads_and_reports_installed(asgi_server):
    charger_id = "SIM-FW-1.6"
    firmware = await db(make_firmware)
    async with running(asgi_server, charger_id, "1.6", mode="idle") as charger:
        station = await online(charger_id, charger)
        sent = await asgi_server.run(
            firmware_update_send,
            station=station,
            firmware=firmware,
            base_url=asgi_server.http_url,
        )
        assert (await wait_final(sent.pk)).status == CommandStatus.ACCEPTED
        station = await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, firmware_status="Installed", firmware_version="fw-2.1"
            ).first(),
            what="firmware installed",
        )
    assert await db(firmware_reports, charger_id) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert charger.stats.boots == 2  # installing reboots the charger
    assert any("sha256" in event for event in charger.events)


@pytest.mark.parametrize("version", V2)
async def test_update_firmware_2_x_downloads_and_reports_installed(asgi_server, version):
    charger_id = f"SIM-FW-{version}"
    firmware = await db(make_firmware)
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        location = firmware_download_url(firmware=firmware, base_url=asgi_server.http_url)
        payload = {
            "requestId": 17,
            "firmware": {"location": location, "retrieveDateTime": format_ocpp_datetime(utcnow())},
        }
        sent = await command(asgi_server, charger_id, "UpdateFirmware", payload)
        assert sent.response == {"status": "Accepted"}
        station = await eventually(
            lambda: ChargingStation.objects.filter(
                charger_id=charger_id, firmware_status="Installed"
            ).first(),
            what="firmware installed",
        )
    assert await db(firmware_reports, charger_id) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallRebooting",
        "Installed",
    ]
    assert station.firmware_version == "fw-2.1"
    assert station.last_boot_reason == "FirmwareUpdate"


async def test_a_firmware_download_that_fails_is_reported(asgi_server):
    charger_id = "SIM-FW-FAIL"
    async with running(asgi_server, charger_id, "1.6", mode="idle") as charger:
        await online(charger_id, charger)
        location = f"{asgi_server.http_url}/files/firmware/not-a-token/fw.bin"
        sent = await command(
            asgi_server,
            charger_id,
            "UpdateFirmware",
            {"location": location, "retrieveDate": format_ocpp_datetime(utcnow())},
        )
        assert sent.status == CommandStatus.ACCEPTED
        await eventually(
            lambda: ChargingStation.objects.filter(
                charger_id=charger_id, firmware_status="DownloadFailed"
            ).exists(),
            what="DownloadFailed",
        )
    assert charger.stats.boots == 1


async def test_get_diagnostics_1_6_uploads_a_file_to_the_request(asgi_server):
    charger_id = "SIM-DIAG-1.6"
    async with running(asgi_server, charger_id, "1.6", mode="idle") as charger:
        station = await online(charger_id, charger)
        sent = await asgi_server.run(
            diagnostics_request_send, station=station, base_url=asgi_server.http_url
        )
        done = await wait_final(sent.pk)
        assert done.status == CommandStatus.ACCEPTED
        row = await eventually(
            lambda: DiagnosticsRequest.objects.filter(
                command=sent, status=DiagnosticsRequest.Status.UPLOADED
            ).first(),
            what="the diagnostics uploaded",
        )
        await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, diagnostics_status="Uploaded"
            ).exists(),
            what="DiagnosticsStatusNotification Uploaded",
        )
    content = await db(lambda: row.file.read().decode())
    assert row.file_name == done.response["fileName"]
    assert row.file.name.endswith(".log")
    assert f"charger: {charger_id}" in content
    assert "MeterValueSampleInterval = 1" in content
    assert row.size == len(content.encode())


@pytest.mark.parametrize("version", V2)
async def test_get_log_2_x_uploads_a_file(asgi_server, version):
    charger_id = f"SIM-LOG-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        station = await online(charger_id, charger)
        row = await db(DiagnosticsRequest.objects.create, station=station, token=f"tok-{version}")
        location = asgi_server.http_url + reverse(
            "maintenance:diagnostics-upload", kwargs={"token": row.token}
        )
        sent = await command(
            asgi_server,
            charger_id,
            "GetLog",
            {"logType": "DiagnosticsLog", "requestId": 5, "log": {"remoteLocation": location}},
        )
        assert sent.response["status"] == "Accepted"
        assert sent.response["filename"].startswith("diagnostics-")
        row = await eventually(
            lambda: DiagnosticsRequest.objects.filter(
                pk=row.pk, status=DiagnosticsRequest.Status.UPLOADED
            ).first(),
            what="the log uploaded",
        )
        await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, diagnostics_status="Uploaded"
            ).exists(),
            what="LogStatusNotification Uploaded",
        )
    assert row.size > 0


@pytest.mark.parametrize("version", VERSIONS)
async def test_it_answers_availability_reservations_local_list_and_the_rest(asgi_server, version):
    charger_id = f"SIM-MISC-{version}"
    later = format_ocpp_datetime(utcnow().replace(year=utcnow().year + 1))
    v16 = version == "1.6"
    token = {"idToken": "RESERVED", "type": "ISO14443"}
    if v16:
        unavailable = ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
        reserve = (
            "ReserveNow",
            {"connectorId": 1, "expiryDate": later, "idTag": "RESERVED", "reservationId": 7},
        )
        local_list = (
            "SendLocalList",
            {
                "listVersion": 3,
                "updateType": "Full",
                "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}],
            },
        )
        unlock = ("UnlockConnector", {"connectorId": 2})
    else:
        unavailable = (
            "ChangeAvailability",
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
        )
        reserve = (
            "ReserveNow",
            {"id": 7, "expiryDateTime": later, "idToken": token, "evseId": 1},
        )
        local_list = (
            "SendLocalList",
            {
                "versionNumber": 3,
                "updateType": "Full",
                "localAuthorizationList": [
                    {"idToken": token, "idTokenInfo": {"status": "Accepted"}}
                ],
            },
        )
        unlock = ("UnlockConnector", {"evseId": 2, "connectorId": 1})
    async with running(asgi_server, charger_id, version, mode="idle", connectors=2) as charger:
        station = await online(charger_id, charger)
        answers = {}
        for action, payload in (unavailable, reserve, local_list, unlock):
            answers[action] = (await command(asgi_server, charger_id, action, payload)).response
        version_answer = await command(asgi_server, charger_id, "GetLocalListVersion", {})
        clear = await command(asgi_server, charger_id, "ClearCache", {})
        ours = await command(
            asgi_server, charger_id, "DataTransfer", {"vendorId": "Constellation", "data": "hi"}
        )
        theirs = await command(asgi_server, charger_id, "DataTransfer", {"vendorId": "Acme"})
        # Reserved connector 1, unavailable connector 2: no connector for this driver.
        if v16:
            start = await command(asgi_server, charger_id, "RemoteStartTransaction", {"idTag": "X"})
        else:
            start = await command(
                asgi_server,
                charger_id,
                "RequestStartTransaction",
                {"idToken": {"idToken": "X", "type": "ISO14443"}, "remoteStartId": 1},
            )
        cancel = await command(asgi_server, charger_id, "CancelReservation", {"reservationId": 7})
        connectors = await eventually(
            lambda: (
                dict(
                    Connector.objects.filter(
                        station=station, status__in=["Available", "Unavailable"]
                    ).values_list("connector_id", "status")
                )
                if Connector.objects.filter(station=station, connector_id=1, status="Available")
                .exclude(status_at=None)
                .exists()
                and StatusEvent.objects.filter(station=station, status="Reserved").exists()
                else None
            ),
            what="Reserved then Available again",
        )
    assert answers["ChangeAvailability"] == {"status": "Accepted"}
    assert answers["ReserveNow"] == {"status": "Accepted"}
    assert answers["SendLocalList"] == {"status": "Accepted"}
    assert answers["UnlockConnector"] == {"status": "Unlocked"}
    key = "listVersion" if v16 else "versionNumber"
    assert version_answer.response == {key: 3}
    assert clear.response == {"status": "Accepted"}
    assert ours.response == {"status": "Accepted", "data": "hi"}
    assert theirs.response == {"status": "UnknownVendorId"}
    assert start.status == CommandStatus.REJECTED
    assert cancel.response == {"status": "Accepted"}
    assert connectors[2] == "Unavailable"
    assert charger.local_list_version == 3
    assert charger.stats.errors == 0, charger.stats.last_error


@pytest.mark.parametrize("version", ["1.6", "2.1"])
async def test_a_rotated_password_is_used_from_the_next_connection(asgi_server, settings, version):
    charger_id = f"SIM-ROTATE-{version}"
    settings.OCPP_ALLOW_UNSECURED = False
    first_password = "first-password-0123456789"

    def with_password() -> None:
        station = ChargingStation.objects.create(
            charger_id=charger_id, registration_status="Accepted"
        )
        station_password_set(station=station, password=first_password)

    await db(with_password)
    async with running(
        asgi_server, charger_id, version, mode="idle", password=first_password
    ) as charger:
        station = await online(charger_id, charger)
        first_hash = station.password_hash
        rotate = await asgi_server.run(station_password_rotate, station=station)
        assert (await wait_final(rotate.pk)).status == CommandStatus.ACCEPTED
        station = await eventually(
            lambda: (
                ChargingStation.objects.filter(pk=station.pk)
                .exclude(password_hash=first_hash)
                .first()
            ),
            what="the new password promoted",
        )
        reset = await command(
            asgi_server, charger_id, "Reset", {"type": "Hard" if version == "1.6" else "Immediate"}
        )
        assert reset.status == CommandStatus.ACCEPTED
        await eventually(
            lambda: ChargingStation.objects.filter(
                pk=station.pk, last_boot_at__gt=station.last_boot_at, is_connected=True
            ).exists(),
            what="a boot with the new password",
        )
    assert charger.settings.get("password") not in ("", first_password)
    assert charger.stats.errors == 0, charger.stats.last_error


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_command_it_does_not_simulate_gets_a_callerror(asgi_server, version):
    charger_id = f"SIM-UNSUPPORTED-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        answer = await command(asgi_server, charger_id, "ClearChargingProfile", {})
    assert answer.status == CommandStatus.ERROR
    assert answer.error_code == "NotSupported"


@pytest.mark.parametrize("version", V2)
async def test_cost_updated_reaches_the_simulated_station(asgi_server, version):
    charger_id = f"SIM-COST-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        done = await command(
            asgi_server, charger_id, "CostUpdated", {"transactionId": "TX-9", "totalCost": 4.27}
        )
    assert done.status == CommandStatus.ACCEPTED, done.status
    assert done.response == {}
    assert charger.running_costs == {"TX-9": 4.27}
