"""Diagnostics (1.6 GetDiagnostics) and log (GetLog) requests, and the files uploaded.

GetLog is OCPP 2.x's, and the OCPP 1.6 security extension's (same fields, same answers).

Stations upload over plain HTTP to a link that carries a random one-off token; OCPP 2.x
requests carry a requestId the station quotes back in its status reports.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from django.core.files import File
from django.db import transaction
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from apps.core.timeutil import utcnow
from apps.maintenance.models import DiagnosticsRequest
from apps.maintenance.services import (
    MaintenanceError,
    command_send,
    optional_fields,
    request_id_new,
    requester,
    speaks_v2,
)

logger = logging.getLogger(__name__)

# Largest diagnostics upload accepted (a proxy in front should refuse bigger bodies first).
MAX_UPLOAD_BYTES = 100 * 1024 * 1024

# DiagnosticsStatusNotification status → request status (Idle changes nothing).
DIAGNOSTICS_STATUSES = {
    "Uploading": DiagnosticsRequest.Status.UPLOADING,
    "Uploaded": DiagnosticsRequest.Status.UPLOADED,
    "UploadFailed": DiagnosticsRequest.Status.FAILED,
}

# LogStatusNotification (OCPP 2.x and the 1.6 security extension) status → request status.
# Idle (nothing uploading) and AcceptedCanceled (this request accepted, an earlier upload
# given up) change nothing.
LOG_STATUSES = {
    "Uploading": DiagnosticsRequest.Status.UPLOADING,
    "Uploaded": DiagnosticsRequest.Status.UPLOADED,
    "UploadFailure": DiagnosticsRequest.Status.FAILED,
    "BadMessage": DiagnosticsRequest.Status.FAILED,
    "NotSupportedOperation": DiagnosticsRequest.Status.FAILED,
    "PermissionDenied": DiagnosticsRequest.Status.FAILED,
}

# GetLog logType values (DataCollectorLog is OCPP 2.1 only: the 2.0.1 schema refuses it).
LOG_TYPES = ("DiagnosticsLog", "SecurityLog", "DataCollectorLog")
# The log types of the OCPP 1.6 security extension's GetLog.
LOG_TYPES_16 = ("DiagnosticsLog", "SecurityLog")


def log_action(*, station: ChargingStation, log_type: str, get_log: bool = False) -> str:
    """Return the action that asks `station` for a `log_type` upload.

    OCPP 2.x: GetLog. OCPP 1.6: GetDiagnostics for diagnostics, which every 1.6 station
    has, unless `get_log` asks for the security extension's GetLog; a SecurityLog only the
    extension's GetLog can ask for.
    """
    if speaks_v2(station) or get_log or log_type != "DiagnosticsLog":
        return "GetLog"
    return "GetDiagnostics"


def _upload_location(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + reverse("maintenance:diagnostics-upload", kwargs={"token": token})


def _upload_request_send(
    *,
    station: ChargingStation,
    token: str,
    action: str,
    payload: dict[str, Any],
    requested_by: Any,
    source: str,
    **fields: Any,
) -> ChargerCommand:
    """Record a DiagnosticsRequest for the upload link `token` and send `action`."""
    with transaction.atomic():
        diagnostics = DiagnosticsRequest.objects.create(
            station=station, token=token, requested_by=requester(requested_by), **fields
        )
        command = command_send(
            station=station,
            action=action,
            payload=payload,
            requested_by=requested_by,
            source=source,
        )
        diagnostics.command = command
        if command.status == CommandStatus.OFFLINE:
            diagnostics.status = DiagnosticsRequest.Status.FAILED
        diagnostics.save(update_fields=["command", "status"])
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
    """Send OCPP 1.6 GetDiagnostics with a one-off upload link; record a DiagnosticsRequest.

    The link (`{base_url}/files/diagnostics/<token>/`) accepts POST or PUT uploads for
    UPLOAD_URL_TTL seconds. The request is failed at once when the station is offline.
    An OCPP 2.x station is refused with MaintenanceError: its message is GetLog
    (`log_request_send`).
    """
    if speaks_v2(station):
        raise MaintenanceError(
            f"{station.charger_id} speaks {station.ocpp_version}: request its logs with "
            "GetLog (log_request_send); GetDiagnostics is OCPP 1.6"
        )
    token = secrets.token_urlsafe(32)
    payload = optional_fields(
        {"location": _upload_location(base_url, token)},
        retries=retries,
        retryInterval=retry_interval,
        startTime=start_time,
        stopTime=stop_time,
    )
    return _upload_request_send(
        station=station,
        token=token,
        action="GetDiagnostics",
        payload=payload,
        requested_by=requested_by,
        source=source,
    )


def log_request_send(
    *,
    station: ChargingStation,
    base_url: str,
    log_type: str = "DiagnosticsLog",
    oldest: datetime | None = None,
    latest: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    get_log: bool = False,
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send GetLog with a one-off upload link and a new requestId; record a DiagnosticsRequest.

    The upload link is the one GetDiagnostics uses (same endpoint, same lifetime); the
    station reports progress with LogStatusNotification quoting the requestId. An OCPP 1.6
    station gets GetLog only from its security extension: a SecurityLog, or a
    DiagnosticsLog with `get_log`; a DiagnosticsLog is otherwise asked for with
    GetDiagnostics (`oldest` / `latest` as its start and stop time), which every 1.6
    station has. A log type the station's version cannot ask for is refused with
    MaintenanceError.
    """
    if log_type not in LOG_TYPES:
        raise MaintenanceError(f"log type is one of {', '.join(LOG_TYPES)}")
    if oldest is not None and latest is not None and latest < oldest:
        raise MaintenanceError("the latest timestamp is before the oldest")
    if not speaks_v2(station) and log_type not in LOG_TYPES_16:
        raise MaintenanceError(
            f"{station.charger_id} speaks OCPP 1.6: its logs are {', '.join(LOG_TYPES_16)}, "
            f"not {log_type}"
        )
    if log_action(station=station, log_type=log_type, get_log=get_log) == "GetDiagnostics":
        return diagnostics_request_send(
            station=station,
            base_url=base_url,
            start_time=oldest,
            stop_time=latest,
            retries=retries,
            retry_interval=retry_interval,
            requested_by=requested_by,
            source=source,
        )
    token = secrets.token_urlsafe(32)
    request_id = request_id_new(DiagnosticsRequest, station.pk)
    log = optional_fields(
        {"remoteLocation": _upload_location(base_url, token)},
        oldestTimestamp=oldest,
        latestTimestamp=latest,
    )
    payload = optional_fields(
        {"logType": log_type, "requestId": request_id, "log": log},
        retries=retries,
        retryInterval=retry_interval,
    )
    return _upload_request_send(
        station=station,
        token=token,
        action="GetLog",
        payload=payload,
        requested_by=requested_by,
        source=source,
        log_type=log_type,
        request_id=request_id,
    )


def diagnostics_answer_store(
    *, command: ChargerCommand, file_name: str | None
) -> DiagnosticsRequest | None:
    """Keep the file name the station answered to GetDiagnostics (or GetLog).

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


def log_answer_store(
    *, command: ChargerCommand, status: str, file_name: str | None
) -> DiagnosticsRequest | None:
    """Apply the station's answer to GetLog (2.x or the 1.6 security extension) to its request.

    Rejected, or accepted without a file name (no log available), fails the request.
    AcceptedCanceled: the station gave up the upload it was busy with for this one, so the
    station's earlier requests still requested or uploading are cancelled.
    """
    if status == "Rejected":
        file_name = None
    diagnostics = diagnostics_answer_store(command=command, file_name=file_name)
    if diagnostics is not None and status == "AcceptedCanceled":
        DiagnosticsRequest.objects.filter(
            station_id=diagnostics.station_id,
            created_at__lte=diagnostics.created_at,
            status__in=[DiagnosticsRequest.Status.REQUESTED, DiagnosticsRequest.Status.UPLOADING],
        ).exclude(pk=diagnostics.pk).exclude(log_type="").update(
            status=DiagnosticsRequest.Status.CANCELLED
        )
    return diagnostics


def _apply_reported(diagnostics: DiagnosticsRequest, status: str, new_status: str | None) -> None:
    """Keep the station's report on the request; an uploaded request stays uploaded.

    Uploaded means the file arrived or the station said so: a later report (a retry's
    Uploading, a confused failure) does not undo that.
    """
    diagnostics.reported_status = status
    if new_status is not None and diagnostics.status != DiagnosticsRequest.Status.UPLOADED:
        diagnostics.status = new_status
    diagnostics.save(update_fields=["status", "reported_status"])


def diagnostics_status_update(*, station_id: int, status: str) -> DiagnosticsRequest | None:
    """Apply a DiagnosticsStatusNotification (1.6) to the station's latest open request.

    Open: the station took the GetDiagnostics (answered, or answer not stored yet); a
    station works on one diagnostics upload at a time, so it reports on the newest.
    Idle changes nothing; an uploaded request stays uploaded.
    """
    new_status = DIAGNOSTICS_STATUSES.get(status)
    if new_status is None:
        return None
    with transaction.atomic():
        diagnostics = (
            DiagnosticsRequest.objects.select_for_update()
            .filter(
                station_id=station_id,
                log_type="",
                command__status__in=[CommandStatus.ACCEPTED, CommandStatus.SENT],
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if diagnostics is None:
            return None
        _apply_reported(diagnostics, status, new_status)
    return diagnostics


def log_status_update(
    *, station_id: int, request_id: int | None, status: str
) -> DiagnosticsRequest | None:
    """Apply a LogStatusNotification (2.x, 1.6 security extension) to the request it names.

    The request is the one whose requestId the notification quotes.

    Without a requestId (a triggered report while nothing uploads) nothing changes. The
    station's status is kept as it said it (reported_status); see LOG_STATUSES for how it
    moves the request's own status. An uploaded request stays uploaded.
    """
    if request_id is None:
        return None
    with transaction.atomic():
        diagnostics = (
            DiagnosticsRequest.objects.select_for_update()
            .filter(station_id=station_id, request_id=request_id)
            .first()
        )
        if diagnostics is None:
            return None
        _apply_reported(diagnostics, status, LOG_STATUSES.get(status))
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
