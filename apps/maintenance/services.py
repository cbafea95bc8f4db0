"""Firmware updates and diagnostics uploads: links, commands, and what stations report.

Stations fetch firmware and upload diagnostics over plain HTTP to links that carry their
own credential: a signed, expiring token (firmware) or a random one-off token (uploads).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from apps.chargers.models import ChargingStation, OcppVersion
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import CommandError, send_command
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_signer

logger = logging.getLogger(__name__)

# Largest diagnostics upload accepted (a proxy in front should refuse bigger bodies first).
MAX_UPLOAD_BYTES = 100 * 1024 * 1024

# DiagnosticsStatusNotification status → request status (Idle changes nothing).
DIAGNOSTICS_STATUSES = {
    "Uploading": DiagnosticsRequest.Status.UPLOADING,
    "Uploaded": DiagnosticsRequest.Status.UPLOADED,
    "UploadFailed": DiagnosticsRequest.Status.FAILED,
}


class MaintenanceError(ValueError):
    """The firmware update or diagnostics request cannot be sent as asked."""


def _user(requested_by: Any) -> Any:
    return requested_by if getattr(requested_by, "is_authenticated", False) else None


def public_base_url(*, request: HttpRequest | None = None) -> str:
    """Return the base URL stations use to reach us: PUBLIC_URL, else the operator's request."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return "http://localhost:8000"


def _optional(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    for key, value in fields.items():
        if value is None:
            continue
        payload[key] = format_ocpp_datetime(value) if isinstance(value, datetime) else value
    return payload


def _send(**kwargs: Any) -> ChargerCommand:
    station = kwargs["station"]
    if station.ocpp_version and station.ocpp_version != OcppVersion.V16:
        raise MaintenanceError(
            f"{station.charger_id} speaks {station.ocpp_version}; {kwargs['action']} here "
            "is the OCPP 1.6 message"
        )
    try:
        return send_command(**kwargs)
    except CommandError as exc:
        raise MaintenanceError(str(exc)) from exc


def firmware_download_url(*, firmware: FirmwareFile, base_url: str) -> str:
    """Return an unguessable download link for `firmware`, valid FIRMWARE_URL_TTL seconds."""
    token = firmware_signer().sign(str(firmware.pk))
    path = reverse(
        "maintenance:firmware-download", kwargs={"token": token, "filename": firmware.filename}
    )
    return base_url.rstrip("/") + path


def firmware_update_send(
    *,
    station: ChargingStation,
    firmware: FirmwareFile,
    base_url: str,
    retrieve_at: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send UpdateFirmware with a fresh download link and record a FirmwareUpdate.

    The station downloads from `retrieve_at` (default now); the link must still be valid
    then, so a retrieve date beyond FIRMWARE_URL_TTL is refused with MaintenanceError.
    """
    now = utcnow()
    retrieve_at = retrieve_at or now
    if retrieve_at.tzinfo is None:
        raise MaintenanceError("the retrieve date must carry a time zone")
    if retrieve_at > now + timedelta(seconds=settings.FIRMWARE_URL_TTL):
        raise MaintenanceError(
            "the download link would expire before the retrieve date "
            f"(FIRMWARE_URL_TTL is {settings.FIRMWARE_URL_TTL} s)"
        )
    payload = _optional(
        {
            "location": firmware_download_url(firmware=firmware, base_url=base_url),
            "retrieveDate": format_ocpp_datetime(retrieve_at),
        },
        retries=retries,
        retryInterval=retry_interval,
    )
    with transaction.atomic():
        command = _send(
            station=station,
            action="UpdateFirmware",
            payload=payload,
            requested_by=requested_by,
            source=source,
        )
        FirmwareUpdate.objects.create(
            station=station,
            firmware=firmware,
            command=command,
            retrieve_at=retrieve_at,
            requested_by=_user(requested_by),
        )
    logger.info(
        "%s: UpdateFirmware %s (%s) sent, command %s",
        station.charger_id,
        firmware,
        firmware.sha256[:12],
        command.pk,
    )
    return command


def diagnostics_request_send(
    *,
    station: ChargingStation,
    base_url: str,
    start_time: datetime | None = None,
    stop_time: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send GetDiagnostics with a one-off upload link and record a DiagnosticsRequest.

    The link (`{base_url}/files/diagnostics/<token>/`) accepts POST or PUT uploads for
    UPLOAD_URL_TTL seconds. The request is failed at once when the station is offline.
    """
    token = secrets.token_urlsafe(32)
    location = base_url.rstrip("/") + reverse(
        "maintenance:diagnostics-upload", kwargs={"token": token}
    )
    payload = _optional(
        {"location": location},
        retries=retries,
        retryInterval=retry_interval,
        startTime=start_time,
        stopTime=stop_time,
    )
    with transaction.atomic():
        diagnostics = DiagnosticsRequest.objects.create(
            station=station, token=token, requested_by=_user(requested_by)
        )
        command = _send(
            station=station,
            action="GetDiagnostics",
            payload=payload,
            requested_by=requested_by,
            source=source,
        )
        diagnostics.command = command
        if command.status == CommandStatus.OFFLINE:
            diagnostics.status = DiagnosticsRequest.Status.FAILED
        diagnostics.save(update_fields=["command", "status"])
    return command


def diagnostics_answer_store(
    *, command: ChargerCommand, file_name: str | None
) -> DiagnosticsRequest | None:
    """Keep the file name the station answered to GetDiagnostics.

    No file name means the station has no diagnostics to send: the request is failed.
    """
    diagnostics = DiagnosticsRequest.objects.select_for_update().filter(command=command).first()
    if diagnostics is None:
        return None
    if file_name:
        diagnostics.file_name = file_name
    elif diagnostics.status == DiagnosticsRequest.Status.REQUESTED:
        diagnostics.status = DiagnosticsRequest.Status.FAILED
    diagnostics.save(update_fields=["file_name", "status"])
    return diagnostics


def diagnostics_status_update(*, station_id: int, status: str) -> DiagnosticsRequest | None:
    """Apply a DiagnosticsStatusNotification to the station's latest open request.

    Open: the station took the GetDiagnostics (answered, or answer not stored yet); a
    station works on one diagnostics upload at a time, so it reports on the newest.
    Idle changes nothing; Uploading does not undo a file already received.
    """
    new_status = DIAGNOSTICS_STATUSES.get(status)
    if new_status is None:
        return None
    with transaction.atomic():
        diagnostics = (
            DiagnosticsRequest.objects.select_for_update()
            .filter(
                station_id=station_id,
                command__status__in=[CommandStatus.ACCEPTED, CommandStatus.SENT],
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if diagnostics is None:
            return None
        if (
            new_status == DiagnosticsRequest.Status.UPLOADING
            and diagnostics.status == DiagnosticsRequest.Status.UPLOADED
        ):
            return diagnostics
        diagnostics.status = new_status
        diagnostics.save(update_fields=["status"])
    return diagnostics


def diagnostics_file_store(
    *, diagnostics: DiagnosticsRequest, name: str, content: File
) -> DiagnosticsRequest:
    """Store an uploaded diagnostics file on its request (a retried upload replaces it).

    The file is written before the row is locked: a long write must not hold the database.
    """
    field = diagnostics.file.field
    storage = field.storage
    stored = storage.save(
        field.generate_filename(diagnostics, name), content, max_length=field.max_length
    )
    try:
        with transaction.atomic():
            diagnostics = (
                DiagnosticsRequest.objects.select_for_update()
                .select_related("station")
                .get(pk=diagnostics.pk)
            )
            previous = diagnostics.file.name or ""
            diagnostics.file.name = stored
            diagnostics.size = storage.size(stored)
            diagnostics.status = DiagnosticsRequest.Status.UPLOADED
            diagnostics.uploaded_at = utcnow()
            diagnostics.save(update_fields=["file", "size", "status", "uploaded_at"])
    except Exception:
        storage.delete(stored)
        raise
    if previous and previous != stored:
        transaction.on_commit(lambda: storage.delete(previous))
    logger.info(
        "%s: diagnostics %s stored (%s bytes)",
        diagnostics.station.charger_id,
        stored,
        diagnostics.size,
    )
    return diagnostics
