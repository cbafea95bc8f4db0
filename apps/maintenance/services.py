"""Firmware updates: links, commands, what stations report; what every maintenance request shares.

Diagnostics and log requests and their uploads are in diagnostics.py.

Stations fetch firmware and upload diagnostics (1.6 GetDiagnostics) or logs (2.x GetLog)
over plain HTTP to links that carry their own credential: a signed, expiring token
(firmware) or a random one-off token (uploads). OCPP 2.x requests carry a requestId the
station quotes back in its status reports; it is stored on the request's row.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from apps.chargers.models import ChargingStation, OcppVersion
from apps.commands.models import ChargerCommand
from apps.commands.services import CommandError, send_command
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate
from apps.maintenance.selectors import firmware_signer

logger = logging.getLogger(__name__)

MAX_REQUEST_ID = 2**31 - 1


class MaintenanceError(ValueError):
    """The firmware update or diagnostics request cannot be sent as asked."""


def requester(requested_by: Any) -> Any:
    return requested_by if getattr(requested_by, "is_authenticated", False) else None


def public_base_url(*, request: HttpRequest | None = None) -> str:
    """Return the base URL stations use to reach us: PUBLIC_URL, else the operator's request."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return "http://localhost:8000"


def optional_fields(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    for key, value in fields.items():
        if value is None:
            continue
        payload[key] = format_ocpp_datetime(value) if isinstance(value, datetime) else value
    return payload


def speaks_v2(station: ChargingStation) -> bool:
    return station.ocpp_version in (OcppVersion.V201, OcppVersion.V21)


def command_send(**kwargs: Any) -> ChargerCommand:
    try:
        return send_command(**kwargs)
    except CommandError as exc:
        raise MaintenanceError(str(exc)) from exc


def request_id_new(model: type[FirmwareUpdate | DiagnosticsRequest], station_id: int) -> int:
    """Return a positive 31-bit requestId no row of `model` of the station has yet."""
    while True:
        candidate = secrets.randbelow(MAX_REQUEST_ID) + 1
        if not model.objects.filter(station_id=station_id, request_id=candidate).exists():
            return candidate


def firmware_download_url(*, firmware: FirmwareFile, base_url: str) -> str:
    """Return an unguessable download link for `firmware`, valid FIRMWARE_URL_TTL seconds."""
    token = firmware_signer().sign(str(firmware.pk))
    path = reverse(
        "maintenance:firmware-download", kwargs={"token": token, "filename": firmware.filename}
    )
    return base_url.rstrip("/") + path


def firmware_update_action(*, station: ChargingStation, firmware: FirmwareFile) -> str:
    """Return the action that updates `station` with `firmware`.

    A signed image goes to an OCPP 1.6 station as the security extension's
    SignedUpdateFirmware (plain UpdateFirmware has no place for its signature); an unsigned
    one as UpdateFirmware. OCPP 2.x has one UpdateFirmware for both.
    """
    if firmware.is_signed and not speaks_v2(station):
        return "SignedUpdateFirmware"
    return "UpdateFirmware"


def firmware_update_send(
    *,
    station: ChargingStation,
    firmware: FirmwareFile,
    base_url: str,
    retrieve_at: datetime | None = None,
    install_at: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send UpdateFirmware (or 1.6 SignedUpdateFirmware) with a fresh download link.

    The station downloads from `retrieve_at` (default now); the link must still be valid
    then, so a retrieve date beyond FIRMWARE_URL_TTL is refused with MaintenanceError.
    An OCPP 2.x station gets the 2.x message with a new requestId, kept on the update so
    the station's FirmwareStatusNotification reports land on it; a signed image's signature
    and signing certificate go with it. A signed image goes to an OCPP 1.6 station as
    SignedUpdateFirmware (the 1.6 security extension), also with a requestId that its
    SignedFirmwareStatusNotification reports quote. `install_at` is sent only in the
    messages that have it (2.x, SignedUpdateFirmware).
    """
    now = utcnow()
    retrieve_at = retrieve_at or now
    if retrieve_at.tzinfo is None or (install_at is not None and install_at.tzinfo is None):
        raise MaintenanceError("the retrieve and install dates must carry a time zone")
    if retrieve_at > now + timedelta(seconds=settings.FIRMWARE_URL_TTL):
        raise MaintenanceError(
            "the download link would expire before the retrieve date "
            f"(FIRMWARE_URL_TTL is {settings.FIRMWARE_URL_TTL} s)"
        )
    if install_at is not None and install_at < retrieve_at:
        raise MaintenanceError("the install date is before the retrieve date")
    location = firmware_download_url(firmware=firmware, base_url=base_url)
    action = firmware_update_action(station=station, firmware=firmware)
    request_id = None
    if speaks_v2(station) or action == "SignedUpdateFirmware":
        request_id = request_id_new(FirmwareUpdate, station.pk)
        image = optional_fields(
            {"location": location, "retrieveDateTime": format_ocpp_datetime(retrieve_at)},
            installDateTime=install_at,
        )
        if firmware.is_signed:
            image["signingCertificate"] = firmware.signing_certificate.strip()
            image["signature"] = firmware.signature.strip()
        body: dict[str, Any] = {"requestId": request_id, "firmware": image}
    else:
        body = {"location": location, "retrieveDate": format_ocpp_datetime(retrieve_at)}
    payload = optional_fields(body, retries=retries, retryInterval=retry_interval)
    with transaction.atomic():
        command = command_send(
            station=station,
            action=action,
            payload=payload,
            requested_by=requested_by,
            source=source,
        )
        FirmwareUpdate.objects.create(
            station=station,
            firmware=firmware,
            command=command,
            retrieve_at=retrieve_at,
            request_id=request_id,
            requested_by=requester(requested_by),
        )
    logger.info(
        "%s: %s %s (%s) sent, command %s",
        station.charger_id,
        action,
        firmware,
        firmware.sha256[:12],
        command.pk,
    )
    return command


def firmware_update_status_record(
    *, station_id: int, request_id: int | None, status: str
) -> FirmwareUpdate | None:
    """Keep a status report on the update whose requestId it quotes.

    The report is a 2.x FirmwareStatusNotification or a 1.6 SignedFirmwareStatusNotification.

    A report without a requestId (triggered, no update going on) or naming an update not
    sent from here changes no update; the station's firmware status is kept either way.
    """
    if request_id is None:
        return None
    with transaction.atomic():
        update = (
            FirmwareUpdate.objects.select_for_update()
            .filter(station_id=station_id, request_id=request_id)
            .first()
        )
        if update is None:
            return None
        update.last_status = status
        update.last_status_at = utcnow()
        update.save(update_fields=["last_status", "last_status_at"])
    return update
