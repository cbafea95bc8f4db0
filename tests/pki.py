"""Self-signed certificates for tests: a test TLS server, a firmware signer, a foreign CA or
client certificate that no CA of ours issued."""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(
    common_name: str,
    *,
    key: Any = None,
    days: float = 1,
    valid_before: datetime.timedelta = datetime.timedelta(minutes=5),
    ca: bool = False,
    ip: str | None = None,
) -> tuple[Any, x509.Certificate]:
    """Return (key, certificate) naming `common_name`, signed by its own key (a new EC P-256
    key unless `key` is given); `ca` marks it a CA, `ip` adds that address as its SAN."""
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - valid_before)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    return key, builder.sign(key, hashes.SHA256())
