"""Handler pieces that every OCPP version shares (the messages differ, the answers do not)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.chargers import services as chargers
from apps.chargers.models import RegistrationStatus, StationReport
from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime
from apps.maintenance.diagnostics import log_status_update
from apps.maintenance.services import firmware_update_status_record
from apps.protocol.engine import HandlerContext
from apps.protocol.versions import V16
from apps.security.ca import CsrRefused
from apps.security.certificates import certificate_request_sign
from apps.security.models import CertificateKind, SecurityEvent
from apps.security.services import security_event_record


def boot_answer(context: HandlerContext, boot: chargers.StationBoot) -> dict[str, Any]:
    """Answer a BootNotification from the station's registration; remember it on the context."""
    context.accepted = boot.registration_status == RegistrationStatus.ACCEPTED
    context.extra["free_charging"] = boot.free_charging
    if not context.accepted:
        interval = settings.OCPP_BOOT_RETRY_INTERVAL
    elif boot.heartbeat_interval is not None:
        # The station takes this interval: answer the one it was configured with.
        interval = boot.heartbeat_interval
    else:
        interval = settings.OCPP_HEARTBEAT_INTERVAL
    return {
        "status": boot.registration_status,
        "currentTime": format_ocpp_datetime(boot.booted_at),
        "interval": interval,
    }


def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    now = chargers.station_heartbeat(station_id=context.station_id)
    return {"currentTime": format_ocpp_datetime(now)}


def data_transfer(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    record = chargers.data_transfer_receive(
        station_id=context.station_id,
        vendor_id=payload["vendorId"],
        message_id=payload.get("messageId", ""),
        data=payload.get("data", ""),
    )
    return {"status": record.status}


def firmware_status_with_request(
    context: HandlerContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """A firmware status quoting the requestId of its update (2.x FirmwareStatusNotification,
    1.6 SignedFirmwareStatusNotification): a station report, applied to that update."""
    chargers.station_report_add(
        station_id=context.station_id, kind=StationReport.Kind.FIRMWARE, status=payload["status"]
    )
    firmware_update_status_record(
        station_id=context.station_id, request_id=payload.get("requestId"), status=payload["status"]
    )
    return {}


def log_status_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    """A GetLog's progress (2.x, and the 1.6 security extension): logs are 2.x's diagnostics,
    one progress field on the station for both."""
    chargers.station_report_add(
        station_id=context.station_id, kind=StationReport.Kind.DIAGNOSTICS, status=payload["status"]
    )
    log_status_update(
        station_id=context.station_id, request_id=payload.get("requestId"), status=payload["status"]
    )
    return {}


def security_event_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Keep a security event the station reports (1.6 security extension and 2.x alike)."""
    security_event_record(
        source=SecurityEvent.Source.STATION,
        event_type=payload["type"],
        charger_id=context.charger_id,
        station_id=context.station_id,
        tech_info=payload.get("techInfo", ""),
        occurred_at=parse_ocpp_datetime(payload["timestamp"]),
    )
    return {}


def sign_certificate(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sign the station's CSR with our CA (the certificate follows as CertificateSigned).

    Answered Accepted when the CA signs it, Rejected when it cannot (the reason goes to
    2.x's statusInfo and to a security event): see apps/security/certificates.py.
    """
    try:
        certificate_request_sign(
            station_id=context.station_id,
            charger_id=context.charger_id,
            csr_pem=payload["csr"],
            kind=payload.get("certificateType", CertificateKind.CHARGING_STATION),
            request_id=payload.get("requestId"),
        )
    except CsrRefused as refused:
        answer: dict[str, Any] = {"status": "Rejected"}
        if context.version is not V16:
            answer["statusInfo"] = {
                "reasonCode": refused.reason[:20],
                "additionalInfo": refused.detail[:512],
            }
        return answer
    return {"status": "Accepted"}
