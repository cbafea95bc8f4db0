"""Encryption of credentials at rest (Fernet keyed from SECRET_KEY and a purpose).

Why: a database dump or backup alone must not hand out the keys that move money or reach other
systems (payment processors, Odoo, Slack). The key is derived from SECRET_KEY and the purpose
(each kind of credential its own key), so changing SECRET_KEY makes the saved credentials
unreadable: they must then be entered again (docs/billing.md, payments).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet(purpose: str) -> Fernet:
    seed = f"constellation.{purpose}:{settings.SECRET_KEY}".encode()
    digest = hashlib.sha256(seed).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def secret_encrypt(value: str, *, purpose: str = "payments") -> str:
    """Return `value` encrypted (an empty value stays empty)."""
    if not value:
        return ""
    return _fernet(purpose).encrypt(value.encode()).decode()


def secret_decrypt(token: str, *, purpose: str = "payments") -> str:
    """Return the clear value of `token`; "" when empty or unreadable (SECRET_KEY changed)."""
    if not token:
        return ""
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
