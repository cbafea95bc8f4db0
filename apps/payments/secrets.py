"""Encryption of processor credentials at rest (Fernet keyed from SECRET_KEY).

Why: a database dump or backup alone must not hand out the keys that move money. The key is
derived from SECRET_KEY, so changing SECRET_KEY makes the saved credentials unreadable: they
must then be entered again (docs/billing.md, payments).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"constellation.payments:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(value: str) -> str:
    """Return `value` encrypted (an empty value stays empty)."""
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def secret_decrypt(token: str) -> str:
    """Return the clear value of `token`; "" when empty or unreadable (SECRET_KEY changed)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
