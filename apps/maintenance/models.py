from __future__ import annotations

import hashlib
import posixpath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.maintenance.signing import validate_signature, validate_signing_certificate


class FirmwareFile(models.Model):
    """A firmware image operators upload and chargers download (UpdateFirmware)."""

    name = models.CharField(_("name"), max_length=100)
    version = models.CharField(_("version"), max_length=50, blank=True)
    file = models.FileField(_("file"), upload_to="firmware/", max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True, editable=False)
    size = models.BigIntegerField(_("size (bytes)"), null=True, blank=True, editable=False)
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    # Signed firmware (OCPP 1.6 security extension SignedUpdateFirmware, 2.x UpdateFirmware):
    # both or neither; the station verifies the image against them, not this server.
    signature = models.TextField(
        _("signature"),
        blank=True,
        validators=[validate_signature],
        help_text=_("The image's signature, Base64-encoded (at most 800 characters)."),
    )
    signing_certificate = models.TextField(
        _("signing certificate"),
        blank=True,
        validators=[validate_signing_certificate],
        help_text=_("The PEM certificate whose key signed the image (at most 5500 characters)."),
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("firmware file")
        verbose_name_plural = _("firmware files")

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    def save(self, *args, **kwargs) -> None:
        if self.file and not self.file._committed:
            # A newly uploaded file: fingerprint it before it is stored.
            digest = hashlib.sha256()
            for chunk in self.file.chunks():
                digest.update(chunk)
            self.sha256 = digest.hexdigest()
            self.size = self.file.size
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "sha256", "size"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if bool(self.signature.strip()) != bool(self.signing_certificate.strip()):
            raise ValidationError(
                _("A signed firmware needs both its signature and its signing certificate.")
            )

    @property
    def filename(self) -> str:
        return posixpath.basename(self.file.name)

    @property
    def is_signed(self) -> bool:
        return bool(self.signature and self.signing_certificate)


class StationRequest(models.Model):
    """What a request sent to a station holds, whatever it asks for (firmware, diagnostics).

    Subclasses add the station (each with its own reverse name), what was asked and the
    progress the station reports; a 2.x request id is unique per station (their Meta).
    """

    command = models.ForeignKey(
        ChargerCommand,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("command"),
    )
    # The requestId sent (2.x UpdateFirmware, GetLog; 1.6 SignedUpdateFirmware, GetLog),
    # quoted back in each status report.
    request_id = models.PositiveIntegerField(_("request id"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class FirmwareUpdate(StationRequest):
    """An UpdateFirmware or SignedUpdateFirmware sent to a station, and its reported progress."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="firmware_updates",
        verbose_name=_("station"),
    )
    firmware = models.ForeignKey(
        FirmwareFile, on_delete=models.PROTECT, related_name="updates", verbose_name=_("firmware")
    )
    retrieve_at = models.DateTimeField(_("retrieve at"))
    last_status = models.CharField(
        _("last status"),
        max_length=32,
        blank=True,
        help_text=_(
            "The last FirmwareStatusNotification (1.6: SignedFirmwareStatusNotification) "
            "naming this update's request id."
        ),
    )
    last_status_at = models.DateTimeField(_("last status at"), null=True, blank=True)

    class Meta(StationRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["station", "request_id"],
                condition=models.Q(request_id__isnull=False),
                name="firmware_update_request_id_unique",
            )
        ]
        verbose_name = _("firmware update")
        verbose_name_plural = _("firmware updates")

    def __str__(self) -> str:
        return f"{self.firmware} → {self.station}"


def _diagnostics_path(instance: DiagnosticsRequest, filename: str) -> str:
    # By station pk: a charger id may hold characters unfit for a path.
    return f"diagnostics/{instance.station_id}/{filename}"


class DiagnosticsRequest(StationRequest):
    """A GetDiagnostics (1.6) or GetLog (2.x, 1.6 extension) sent, and the file uploaded."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        UPLOADING = "uploading", _("Uploading")
        UPLOADED = "uploaded", _("Uploaded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled by a later request")

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="diagnostics_requests",
        verbose_name=_("station"),
    )
    # The secret part of the upload link; the link is the only credential the station has.
    token = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("token"))
    file = models.FileField(
        _("file"), upload_to=_diagnostics_path, max_length=255, null=True, blank=True
    )
    file_name = models.CharField(
        _("file name"),
        max_length=255,
        blank=True,
        help_text=_("The name the station gave in its answer to GetDiagnostics or GetLog."),
    )
    log_type = models.CharField(
        _("log type"),
        max_length=32,
        blank=True,
        help_text=_("GetLog logType; blank for an OCPP 1.6 GetDiagnostics."),
    )
    size = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    reported_status = models.CharField(
        _("station status"),
        max_length=32,
        blank=True,
        help_text=_("The last upload status the station reported for this request."),
    )
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True)

    class Meta(StationRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["station", "request_id"],
                condition=models.Q(request_id__isnull=False),
                name="diagnostics_request_request_id_unique",
            )
        ]
        verbose_name = _("diagnostics request")
        verbose_name_plural = _("diagnostics requests")

    def __str__(self) -> str:
        what = self.log_type or "diagnostics"
        return f"{what} of {self.station} ({self.status})"
