from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation


class SecurityEvent(models.Model):
    """A security event: reported by a station (SecurityEventNotification) or seen by us."""

    class Source(models.TextChoices):
        STATION = "station", _("Station")
        CSMS = "csms", _("CSMS")

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="security_events",
        verbose_name=_("station"),
    )
    charger_id = models.CharField(_("charger id"), max_length=48, blank=True, db_index=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    event_type = models.CharField(_("type"), max_length=50, db_index=True)
    tech_info = models.TextField(_("technical information"), blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")

    def __str__(self) -> str:
        return f"{self.charger_id or '-'} {self.event_type}"


class CertificateKind(models.TextChoices):
    """What a certificate we sign is for (OCPP's CertificateSigningUseEnumType)."""

    CHARGING_STATION = "ChargingStationCertificate", _("Charging station (OCPP TLS)")
    V2G = "V2GCertificate", _("V2G (ISO 15118)")
    V2G20 = "V2G20Certificate", _("V2G (ISO 15118-20)")


class IssuedCertificate(models.Model):
    """A certificate our CA signed for a station, and whether it was revoked."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="issued_certificates",
        verbose_name=_("station"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=CertificateKind.choices)
    serial = models.CharField(_("serial number"), max_length=40, unique=True)  # hex
    subject = models.CharField(_("subject"), max_length=500)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"), db_index=True)
    pem = models.TextField(_("certificate (PEM)"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    # The CertificateSigned command that delivered it: its status is the station's answer.
    delivery = models.ForeignKey(
        "commands.ChargerCommand",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delivery"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revocation_reason = models.CharField(_("revocation reason"), max_length=200, blank=True)
    # When the renewal task last asked the station for a new CSR for this certificate.
    renewal_requested_at = models.DateTimeField(_("renewal requested"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("issued certificate")
        verbose_name_plural = _("issued certificates")

    def __str__(self) -> str:
        return f"{self.subject} #{self.serial}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class InstalledCertificate(models.Model):
    """A certificate a station reported installed (GetInstalledCertificateIds), by its hash."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="installed_certificates",
        verbose_name=_("station"),
    )
    certificate_type = models.CharField(_("type"), max_length=40)
    hash_algorithm = models.CharField(_("hash algorithm"), max_length=8)
    issuer_name_hash = models.CharField(_("issuer name hash"), max_length=128)
    issuer_key_hash = models.CharField(_("issuer key hash"), max_length=128)
    serial_number = models.CharField(_("serial number"), max_length=40)
    reported_at = models.DateTimeField(_("reported"))

    class Meta:
        ordering = ["station", "certificate_type", "serial_number"]
        verbose_name = _("installed certificate")
        verbose_name_plural = _("installed certificates")

    def __str__(self) -> str:
        return f"{self.certificate_type} #{self.serial_number}"

    def hash_data(self) -> dict[str, str]:
        """Return the certificate's CertificateHashDataType (DeleteCertificate's argument)."""
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }
