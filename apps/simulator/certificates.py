"""A simulated charger's certificates: its key, its station certificate, the roots it trusts.

What a charger does for the 1.6 security extension and 2.x blocks A and M, with the
`cryptography` package: it makes a key and a CSR (CN = its charger id, O = its organisation
when it has one) for SignCertificate; it takes the chain CertificateSigned brings only if
the leaf is for that key and, when a CSMS root is installed, the chain verifies up to it;
it keeps the roots InstallCertificate brings, lists them by their OCSP CertID hash data
(GetInstalledCertificateIds) and deletes them by it (DeleteCertificate).

With a directory (`ChargerConfig.state_dir`, the Simulator's DATA_DIR/simulator), the keys
(file mode 0600) and certificates live in `<directory>/<charger id>/` and outlive a restart;
without one, in memory only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

# The roots each version installs, and the one the CSMS's chain must verify up to.
ROOT_TYPES_16 = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
ROOT_TYPES_2X = (
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
)
CSMS_ROOTS = ("CentralSystemRootCertificate", "CSMSRootCertificate")
STATION_CERTIFICATE = "ChargingStationCertificate"
KEY_FILE = "station.key"
# The Web PKI's rules (RFC 5280 profile, clientAuth usage), but a station certificate names
# the station in its subject's CN, not in a subjectAltName (1.6 security whitepaper, 2.0.1
# part 2 A00.FR.400s), so one is not required.
CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
STATION_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
)
PENDING_KEY_FILE = "pending.key"
CERT_FILE = "station.pem"
ROOTS_DIR = "roots"


class Refused(ValueError):
    """A certificate the charger does not take; `reason` is a short OCPP reasonCode."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Root:
    certificate_type: str
    certificate: x509.Certificate

    def hash_data(self) -> dict[str, str]:
        return hash_data(self.certificate, self.certificate)


def hash_data(cert: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
    """Return OCPP CertificateHashData of `cert` (snake_case, as the `ocpp` library takes it).

    The OCSP CertID with SHA-256: issuerNameHash hashes the DER of the issuer's name,
    issuerKeyHash the issuer's public key (the BIT STRING's value, RFC 6960 CertID),
    serialNumber is the serial in hex without leading zeroes (2.0.1 part 2,
    CertificateHashDataType); a root is its own issuer.
    """
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": request.issuer_name_hash.hex(),
        "issuer_key_hash": request.issuer_key_hash.hex(),
        "serial_number": format(request.serial_number, "x"),
    }


def _same_hash(a: dict[str, str], b: dict[str, str]) -> bool:
    def norm(data: dict[str, str]) -> tuple[str, ...]:
        return (
            str(data.get("hash_algorithm", "")),
            str(data.get("issuer_name_hash", "")).lower(),
            str(data.get("issuer_key_hash", "")).lower(),
            str(data.get("serial_number", "")).lower().lstrip("0") or "0",
        )

    return norm(a) == norm(b)


def _public_der(key: ec.EllipticCurvePrivateKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by its owner only (0600), replacing the file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(path.suffix + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(staging, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateStore:
    """The keys and certificates of one simulated charger (an EC P-256 key per CSR)."""

    def __init__(
        self, *, charger_id: str, v16: bool, organization: str = "", directory: str = ""
    ) -> None:
        self.charger_id = charger_id
        self.organization = organization
        self.root_types = ROOT_TYPES_16 if v16 else ROOT_TYPES_2X
        self.directory = Path(directory) / quote(charger_id, safe="") if directory else None
        self.key: ec.EllipticCurvePrivateKey | None = None
        self.pending_key: ec.EllipticCurvePrivateKey | None = None
        self.station: list[x509.Certificate] = []  # the chain: leaf first
        self.roots: list[Root] = []
        self._load()

    # --- signing ---------------------------------------------------------------------------

    def needs_certificate(self) -> bool:
        """Return whether the charger has no station certificate valid now."""
        if not self.station:
            return True
        return self.station[0].not_valid_after_utc <= dt.datetime.now(dt.UTC)

    def csr(self) -> str:
        """Return a new CSR (PEM) for a new key, kept pending until its certificate comes."""
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, self.charger_id)]
        if self.organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name(attributes))
            .sign(key, hashes.SHA256())
        )
        self.pending_key = key
        if self.directory is not None:
            _write_private(self.directory / PENDING_KEY_FILE, _key_pem(key))
        return request.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def certificate_signed(self, chain_pem: str) -> x509.Certificate:
        """Take a signed chain as the station certificate; raise Refused if it is not ours.

        The leaf must be for the pending key (or the current one), and within its validity;
        with a CSMS root installed, the chain must verify up to it.
        """
        try:
            chain = x509.load_pem_x509_certificates(chain_pem.encode())
        except ValueError as exc:
            raise Refused("InvalidCertificate", f"not a PEM certificate chain: {exc}") from exc
        leaf = chain[0]
        keys = [k for k in (self.pending_key, self.key) if k is not None]
        key = next((k for k in keys if _public_der(k) == _public_der(leaf)), None)
        if key is None:
            raise Refused("WrongKey", "the certificate is not for this charger's key")
        roots = [root.certificate for root in self.roots if root.certificate_type in CSMS_ROOTS]
        now = dt.datetime.now(dt.UTC)
        if roots:
            verifier = (
                PolicyBuilder()
                .store(Store(roots))
                .time(now)
                .extension_policies(ca_policy=CA_POLICY, ee_policy=STATION_POLICY)
                .build_client_verifier()
            )
            try:
                verifier.verify(leaf, chain[1:])
            except VerificationError as exc:
                raise Refused("InvalidChain", f"the chain does not verify: {exc}") from exc
        elif not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise Refused("Expired", "the certificate is not valid now")
        self.key, self.station = key, chain
        if key is self.pending_key:
            self.pending_key = None
        if self.directory is not None:
            _write_private(self.directory / KEY_FILE, _key_pem(key))
            (self.directory / CERT_FILE).write_bytes(b"".join(_pem(c) for c in chain))
            with contextlib.suppress(FileNotFoundError):
                (self.directory / PENDING_KEY_FILE).unlink()
        return leaf

    # --- installed roots -------------------------------------------------------------------

    def install(self, certificate_type: str, pem: str) -> Root:
        """Install a root certificate of a type; raise Refused if it is no CA certificate."""
        if certificate_type not in self.root_types:
            raise Refused("UnknownType", f"{certificate_type} is not a root type here")
        try:
            (cert,) = x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            raise Refused("InvalidCertificate", f"not one PEM certificate: {exc}") from exc
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise Refused("NotACA", "the certificate is not a CA certificate")
        root = Root(certificate_type, cert)
        # The same certificate installed again replaces itself.
        self.roots = [r for r in self.roots if not _same_hash(r.hash_data(), root.hash_data())]
        self.roots.append(root)
        self._save_roots()
        return root

    def installed(self, types: list[str] | None = None) -> list[Root]:
        """Return the installed roots, of the given types (none given: all)."""
        return [root for root in self.roots if not types or root.certificate_type in types]

    def delete(self, data: dict[str, str]) -> bool:
        """Delete the installed root with this hash data; False when there is none."""
        kept = [root for root in self.roots if not _same_hash(root.hash_data(), data)]
        if len(kept) == len(self.roots):
            return False
        self.roots = kept
        self._save_roots()
        return True

    # --- on disk ---------------------------------------------------------------------------

    def _save_roots(self) -> None:
        if self.directory is None:
            return
        folder = self.directory / ROOTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.pem"):
            old.unlink()
        for n, root in enumerate(self.roots):
            (folder / f"{n:03d}-{root.certificate_type}.pem").write_bytes(_pem(root.certificate))

    def _load(self) -> None:
        folder = self.directory
        if folder is None or not folder.exists():
            return
        for name, attribute in ((KEY_FILE, "key"), (PENDING_KEY_FILE, "pending_key")):
            with contextlib.suppress(FileNotFoundError, ValueError):
                key = serialization.load_pem_private_key((folder / name).read_bytes(), None)
                if isinstance(key, ec.EllipticCurvePrivateKey):
                    setattr(self, attribute, key)
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.station = x509.load_pem_x509_certificates((folder / CERT_FILE).read_bytes())
        for path in sorted((folder / ROOTS_DIR).glob("*.pem")):
            certificate_type = path.stem.partition("-")[2]
            with contextlib.suppress(ValueError):
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                self.roots.append(Root(certificate_type, cert))
