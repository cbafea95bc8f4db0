"""Checks of a signed firmware's signature and signing certificate, as operators upload them.

OCPP carries both as text: the signature Base64-encoded (at most 800 characters), the
certificate in PEM (at most 5500). This server checks their form and that the certificate
parses; whether the signature matches the image is the station's check (the algorithm is
the vendor's: RSA or ECDSA over SHA-256 are common).
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_SIGNATURE_CHARS = 800
MAX_CERTIFICATE_CHARS = 5500


def validate_signature(value: str) -> None:
    """Refuse a signature that is not Base64 or is longer than OCPP allows."""
    text = value.strip()
    if not text:
        return
    if len(text) > MAX_SIGNATURE_CHARS:
        raise ValidationError(
            _("The signature is %(length)d characters long; OCPP allows %(limit)d."),
            params={"length": len(text), "limit": MAX_SIGNATURE_CHARS},
        )
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(_("The signature is not valid Base64.")) from exc


def validate_signing_certificate(value: str) -> None:
    """Refuse a certificate that is not one PEM X.509 certificate or is too long for OCPP."""
    text = value.strip()
    if not text:
        return
    if len(text) > MAX_CERTIFICATE_CHARS:
        raise ValidationError(
            _("The certificate is %(length)d characters long; OCPP allows %(limit)d."),
            params={"length": len(text), "limit": MAX_CERTIFICATE_CHARS},
        )
    try:
        x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValidationError(
            _("The signing certificate is not a PEM X.509 certificate: %(error)s"),
            params={"error": exc},
        ) from exc
