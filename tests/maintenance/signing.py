"""A firmware signer for tests: a key, its self-signed certificate, signatures of images."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.core.files.base import ContentFile

from apps.maintenance.models import FirmwareFile
from tests.pki import self_signed


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate_pem: str

    def sign(self, image: bytes) -> str:
        """Return the Base64 signature of `image` (SHA-256; ECDSA, or RSA PKCS#1 v1.5)."""
        if isinstance(self.key, rsa.RSAPrivateKey):
            raw = self.key.sign(image, padding.PKCS1v15(), hashes.SHA256())
        else:
            raw = self.key.sign(image, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(raw).decode()


def signer(kind: str = "ec") -> Signer:
    """Return a new signer with a self-signed firmware signing certificate."""
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    _, certificate = self_signed(
        "Test firmware signing", key=key, days=30, valid_before=datetime.timedelta(days=1)
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return Signer(key=key, certificate_pem=pem)


def signed_firmware(image: bytes, *, by: Signer, signature: str | None = None) -> FirmwareFile:
    """Store a firmware file signed by `by` (or carrying the `signature` given)."""
    firmware = FirmwareFile(
        name="Signed",
        version="5.0",
        signature=by.sign(image) if signature is None else signature,
        signing_certificate=by.certificate_pem,
    )
    firmware.full_clean(exclude=["file"])
    firmware.file.save("fw-5.0.bin", ContentFile(image), save=False)
    firmware.save()
    return firmware
