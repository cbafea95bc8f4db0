"""The CSMS certificate authority: its key and certificate, checking CSRs, issuing leaves.

Plain `cryptography`, no database: the services (`apps/security/certificates.py`) keep the
records. The CA is either the operator's (OCPP_CA_CERT_FILE + OCPP_CA_KEY_FILE, e.g. an
intermediate of the operator's own PKI) or one made here on first use in DATA_DIR/ca: an
RSA-2048 key (file mode 0600) and a self-signed certificate.

Why RSA-2048 for the CA made here, not EC P-256: the 1.6 security whitepaper (as its
compliance test cases TC_086/TC_087 check it) lets a charge point implement either the two
TLS_ECDHE_ECDSA cipher suites or the two TLS_RSA ones (only the central system must offer all
four), so every charger handles RSA, while an RSA-only charger could not use a server
certificate with an EC key. 2048 bits is the smallest RSA key accepted there. A signature
costs a few milliseconds (once per certificate), and a chain of an RSA leaf and the CA stays
far below CertificateSigned's 10,000 characters. The key of a charger's certificate is the
charger's choice: RSA (2048 bits or more) and EC CSRs are both signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

CA_KEY_FILE = "ca.key"
CA_CERT_FILE = "ca.pem"
# Years the CA made here is valid.
CA_YEARS = 10
# Bits of the RSA keys made here (the CA's, a TLS server's).
RSA_BITS = 2048
# Smallest RSA key of a charger we sign (2.0.1 part 2, certificate properties: 2048 bits).
MIN_RSA_BITS = 2048


class CsrRefused(ValueError):
    """A CSR that is not signed: unreadable, badly signed, or naming someone else."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # a short code, OCPP's statusInfo reasonCode (20 characters)
        self.detail = detail


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    # The certificates of the CA file, the CA's first: what a leaf's chain carries after it.
    chain: tuple[x509.Certificate, ...]
    cert_path: Path

    def chain_pem(self) -> str:
        return "".join(_pem(cert) for cert in self.chain)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_pem(cert: x509.Certificate) -> str:
    return _pem(cert)


def ca_directory() -> Path:
    return Path(settings.DATA_DIR) / "ca"


def ca_certificate_path() -> Path:
    """Return the file of the CA certificate (for a TLS server's client-certificate check)."""
    return ca_load().cert_path


def _configured_files() -> tuple[Path, Path] | None:
    cert_file, key_file = settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE
    if cert_file and key_file:
        return Path(cert_file).expanduser(), Path(key_file).expanduser()
    return None


def ca_load() -> CertificateAuthority:
    """Return the CA: the operator's files, or the one in DATA_DIR/ca (made on first use)."""
    files = _configured_files()
    if files is None:
        directory = ca_directory()
        if not (directory / CA_CERT_FILE).exists():
            _ca_create(directory)
        files = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    cert_path, key_path = files
    chain = tuple(x509.load_pem_x509_certificates(cert_path.read_bytes()))
    password = settings.OCPP_CA_KEY_PASSWORD.encode() or None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=password)
    except TypeError as exc:  # a password for a plain key, or none for an encrypted one
        raise ValueError(f"{key_path}: {exc} (OCPP_CA_KEY_PASSWORD)") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{key_path}: the CA key must be an EC or RSA key")
    if chain[0].public_key().public_numbers() != key.public_key().public_numbers():
        raise ValueError(f"{key_path} is not the key of the certificate in {cert_path}")
    return CertificateAuthority(certificate=chain[0], key=key, chain=chain, cert_path=cert_path)


def _ca_create(directory: Path) -> None:
    """Make the CA in a fresh directory and move it into place: two processes agree on one.

    A directory is renamed onto a name that does not exist, or onto an empty directory, and
    nowhere else (POSIX and Windows): the process that loses the race throws its CA away.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ca-", dir=directory.parent))  # mode 0700
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        key_fd = os.open(staging / CA_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(key_fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        now = dt.datetime.now(dt.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organization() or "Constellation"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Constellation CSMS CA"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        (staging / CA_CERT_FILE).write_text(_pem(cert))
        with contextlib.suppress(OSError):  # lost the race: the other process's CA stands
            os.rename(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _organization() -> str:
    return settings.OCPP_CERTIFICATE_ORGANIZATION


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if len(values) == 1 else ""


def csr_check(*, csr_pem: str, charger_id: str) -> x509.CertificateSigningRequest:
    """Return the CSR if it may be signed for `charger_id`; raise CsrRefused if not.

    Checked: it parses (PEM, RFC 2986), its signature verifies with its own key (the
    charger holds the private key), the key is EC or RSA of 2048 bits or more, its subject's
    commonName is the charger id and, when OCPP_CERTIFICATE_ORGANIZATION is set, its
    organizationName is that (1.6 security whitepaper and 2.0.1 A02/A03: the charger puts
    CpoName / SecurityCtrlr.OrganizationName in O and its identity in CN).
    """
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CsrRefused("InvalidCSR", f"not a PEM certificate signing request: {exc}") from exc
    try:
        valid = csr.is_signature_valid
    except (ValueError, InvalidSignature, x509.UnsupportedGeneralNameType) as exc:
        raise CsrRefused("InvalidCSR", f"the CSR's signature cannot be checked: {exc}") from exc
    if not valid:
        raise CsrRefused("InvalidSignature", "the CSR's signature does not verify")
    try:
        key = csr.public_key()
    except ValueError as exc:
        raise CsrRefused("InvalidCSR", f"unreadable public key: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrRefused("WeakKey", f"an RSA key of {key.key_size} bits (< {MIN_RSA_BITS})")
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        raise CsrRefused("UnsupportedKey", f"a {type(key).__name__}: EC or RSA keys only")
    common_name = _attribute(csr.subject, NameOID.COMMON_NAME)
    if common_name != charger_id:
        raise CsrRefused(
            "InvalidCommonName",
            f"the CSR's CN is {common_name!r}, the charger is {charger_id!r}",
        )
    organization = _organization()
    if organization:
        given = _attribute(csr.subject, NameOID.ORGANIZATION_NAME)
        if given != organization:
            raise CsrRefused(
                "InvalidOrganization",
                f"the CSR's O is {given!r}, OCPP_CERTIFICATE_ORGANIZATION is {organization!r}",
            )
    return csr


def certificate_issue(
    *,
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    days: int,
    usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    dns_names: tuple[str, ...] = (),
) -> x509.Certificate:
    """Sign a leaf certificate for `public_key`: not a CA, for TLS clients (or servers)."""
    now = dt.datetime.now(dt.UTC)
    not_after = min(now + dt.timedelta(days=days), ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # a charger's clock may be behind
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(name) for name in dns_names]),
            critical=False,
        )
    return builder.sign(ca.key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    """A subject alternative name for a host: its IP address, or its DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def server_certificate_issue(*, hostnames: tuple[str, ...], days: int) -> tuple[str, str]:
    """Return (certificate chain PEM, key PEM) of a new TLS server certificate from the CA.

    For the server chargers connect to with TLS (security profiles 2 and 3): chargers that
    trust the CA (installed as CentralSystemRootCertificate / CSMSRootCertificate) trust it.
    A hostname that is an IP address goes in as an IP address (a client checks it so).
    """
    ca = ca_load()
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    cert = certificate_issue(
        ca=ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]),
        public_key=key.public_key(),
        days=days,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        dns_names=hostnames,
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return _pem(cert) + ca.chain_pem(), key_pem
