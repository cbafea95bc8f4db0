"""Reads of the security app that the admission of a connection needs."""

from __future__ import annotations

from apps.security.models import IssuedCertificate


def issued_certificate_revoked(*, serial: str) -> bool:
    """Tell whether our CA issued the certificate of this serial (hex) and it was revoked."""
    return IssuedCertificate.objects.filter(serial=serial, revoked_at__isnull=False).exists()
