"""Station passwords (HTTP Basic, OCPP security profiles 1 and 2).

OCPP asks for random passwords of 16 to 40 characters; this project generates 32 random
alphanumerics (about 190 bits). OCPP 1.6 (security whitepaper) sends the password as
AuthorizationKey, the hex digits of its bytes, at most 20 bytes: 1.6 stations get 20
alphanumerics (about 119 bits). For secrets that random a slow hash adds no protection, and
thousands of chargers reconnecting at once must not cost seconds of CPU each, so passwords
are kept as salted PBKDF2-SHA256 with a modest iteration count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 2_000
ALPHABET = string.ascii_letters + string.digits
GENERATED_LENGTH = 32
V16_LENGTH = 20  # the whitepaper's AuthorizationKey: 16 to 20 bytes
MIN_LENGTH, MAX_LENGTH = 16, 40


def password_generate(*, length: int = GENERATED_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def authorization_key_encode(password: str) -> str:
    """Return the OCPP 1.6 AuthorizationKey for `password`: the hex digits of its bytes.

    The station decodes them and sends the bytes as its HTTP Basic password, which is
    `password` again (ASCII): what the station's stored hash was made from.
    """
    return password.encode().hex()


def password_hash(password: str, *, salt: str | None = None) -> str:
    """Return `pbkdf2_sha256$iterations$salt$digest` for `password`."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS)
    return f"{ALGORITHM}${ITERATIONS}${salt}${base64.b64encode(digest).decode()}"


def password_matches(password: str, encoded: str) -> bool:
    """Tell whether `password` is the one `encoded` was made from (constant time)."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
    except ValueError:
        return False
    if algorithm != ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)
