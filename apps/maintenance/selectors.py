"""Reads about firmware and diagnostics: link checks, update progress."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Case, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import NullIf

from apps.chargers.models import StationReport
from apps.core.timeutil import utcnow
from apps.maintenance.models import DiagnosticsRequest, FirmwareFile, FirmwareUpdate

FIRMWARE_LINK_SALT = "apps.maintenance.firmware-download"


class LinkInvalid(Exception):
    """The link was never issued (unknown token, bad signature, wrong file)."""


class LinkExpired(Exception):
    """The link was issued, but longer ago than its time to live."""


def firmware_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=FIRMWARE_LINK_SALT)


def firmware_for_link(*, token: str, filename: str) -> FirmwareFile:
    """Return the firmware a download link names; raise LinkInvalid or LinkExpired."""
    try:
        firmware_id = firmware_signer().unsign(token, max_age=settings.FIRMWARE_URL_TTL)
    except signing.SignatureExpired as exc:
        raise LinkExpired(str(exc)) from exc
    except signing.BadSignature as exc:
        raise LinkInvalid(str(exc)) from exc
    firmware = FirmwareFile.objects.filter(pk=firmware_id).first()
    if firmware is None or firmware.filename != filename:
        raise LinkInvalid("no such firmware file")
    return firmware


def diagnostics_request_for_upload(*, token: str) -> DiagnosticsRequest:
    """Return the request an upload link belongs to; raise LinkInvalid or LinkExpired."""
    request = DiagnosticsRequest.objects.select_related("station").filter(token=token).first()
    if request is None:
        raise LinkInvalid("no such upload link")
    if request.created_at + timedelta(seconds=settings.UPLOAD_URL_TTL) < utcnow():
        raise LinkExpired("the upload link has expired")
    return request


def firmware_updates_with_status(
    queryset: QuerySet[FirmwareUpdate] | None = None,
) -> QuerySet[FirmwareUpdate]:
    """Annotate each update with the station's latest firmware report that belongs to it.

    An OCPP 2.x update (it has a request id) gets the last report quoting its requestId.
    A 1.6 FirmwareStatusNotification names no update: it belongs to the station's newest
    update sent before it. `reported_status` / `reported_at` are that report (None when
    the station has reported nothing for the update).
    """
    queryset = FirmwareUpdate.objects.all() if queryset is None else queryset
    later_update = FirmwareUpdate.objects.filter(
        station_id=OuterRef(OuterRef("station_id")),
        created_at__gt=OuterRef(OuterRef("created_at")),
        created_at__lte=OuterRef("received_at"),
    )
    reports = (
        StationReport.objects.filter(
            station_id=OuterRef("station_id"),
            kind=StationReport.Kind.FIRMWARE,
            received_at__gte=OuterRef("created_at"),
        )
        .exclude(Exists(later_update))
        .order_by("-received_at", "-id")
    )
    linked = When(request_id__isnull=False, then=NullIf(F("last_status"), Value("")))
    return queryset.annotate(
        reported_status=Case(linked, default=Subquery(reports.values("status")[:1])),
        reported_at=Case(
            When(request_id__isnull=False, then=F("last_status_at")),
            default=Subquery(reports.values("received_at")[:1]),
        ),
    )
