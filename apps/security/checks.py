"""System checks of the certificate authority settings (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from apps.security import ca


def check_ca_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.OCPP_CERTIFICATE_VALIDITY_DAYS < 1 or settings.OCPP_CERTIFICATE_RENEWAL_DAYS < 0:
        errors.append(
            Error(
                "OCPP_CERTIFICATE_VALIDITY_DAYS must be 1 or more and "
                "OCPP_CERTIFICATE_RENEWAL_DAYS 0 or more.",
                id="security.E003",
            )
        )
    cert_file, key_file = settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE
    if not cert_file and not key_file:
        return errors  # the CA made in DATA_DIR on first use
    if not (cert_file and key_file):
        return [
            *errors,
            Error(
                "OCPP_CA_CERT_FILE and OCPP_CA_KEY_FILE are set together or not at all.",
                hint="Set both to use your CA, or neither to use the one made in DATA_DIR/ca.",
                id="security.E001",
            ),
        ]
    try:
        ca.ca_load()
    except (OSError, ValueError) as exc:
        return [
            *errors,
            Error(
                f"The CA in OCPP_CA_CERT_FILE / OCPP_CA_KEY_FILE cannot be used: {exc}",
                hint="Both are PEM files: the CA certificate (then its issuers) and its key.",
                id="security.E002",
            ),
        ]
    return errors
