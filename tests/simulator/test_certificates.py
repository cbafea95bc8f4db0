"""A simulated charger's certificate store: keys on disk, roots, hash data, checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.simulator.certificates import (
    CERT_FILE,
    KEY_FILE,
    PENDING_KEY_FILE,
    CertificateStore,
    Refused,
)


def certificate(
    *,
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey | None = None,
    issuer: x509.Certificate | None = None,
    ca: bool = True,
    days: int = 30,
    serial: int | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(public_key or key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def test_it_lists_roots_by_their_ocsp_hash_data():
    key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(subject="Root", key=key, serial=0x0ABC)
    store = CertificateStore(charger_id="CP-1", v16=False)
    store.install("CSMSRootCertificate", pem(root))
    (listed,) = store.installed(["CSMSRootCertificate"])
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert listed.hash_data() == {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": hashlib.sha256(root.subject.public_bytes()).hexdigest(),
        "issuer_key_hash": hashlib.sha256(point).hexdigest(),
        "serial_number": "abc",
    }
    assert store.installed(["V2GRootCertificate"]) == []
    # Hex case and leading zeroes do not matter; another serial is not it.
    assert not store.delete({**listed.hash_data(), "serial_number": "abd"})
    assert store.delete({**listed.hash_data(), "serial_number": "0ABC"})
    assert store.installed() == []


def test_it_refuses_what_is_not_a_root_of_its_version():
    key = ec.generate_private_key(ec.SECP256R1())
    store = CertificateStore(charger_id="CP-1", v16=True)
    with pytest.raises(Refused) as unreadable:
        store.install("CentralSystemRootCertificate", "-----BEGIN CERTIFICATE-----\n")
    assert unreadable.value.reason == "InvalidCertificate"
    leaf = certificate(subject="leaf", key=key, ca=False)
    with pytest.raises(Refused) as not_ca:
        store.install("CentralSystemRootCertificate", pem(leaf))
    assert not_ca.value.reason == "NotACA"
    with pytest.raises(Refused) as other_version:
        store.install("CSMSRootCertificate", pem(certificate(subject="Root", key=key)))
    assert other_version.value.reason == "UnknownType"
    assert store.installed() == []


def test_a_csr_names_the_charger_and_its_organisation():
    store = CertificateStore(charger_id="CP-7", v16=True, organization="ACME")
    csr = x509.load_pem_x509_csr(store.csr().encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-7"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME"


def test_a_signed_certificate_must_match_the_key_and_be_valid():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(subject="Root", key=ca_key)
    store = CertificateStore(charger_id="CP-1", v16=True)
    csr = x509.load_pem_x509_csr(store.csr().encode())
    stranger = ec.generate_private_key(ec.SECP256R1())
    for public_key, days, reason in (
        (stranger.public_key(), 30, "WrongKey"),
        (csr.public_key(), -1, "Expired"),
    ):
        cert = certificate(
            subject="CP-1", key=ca_key, public_key=public_key, issuer=root, ca=False, days=days
        )
        with pytest.raises(Refused) as refused:
            store.certificate_signed(pem(cert, root))
        assert refused.value.reason == reason
    assert store.station == []
    good = certificate(subject="CP-1", key=ca_key, public_key=csr.public_key(), issuer=root)
    store.certificate_signed(pem(good, root))
    assert store.station == [good, root]


def test_keys_and_certificates_outlive_a_restart(tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(subject="Root", key=ca_key)
    store = CertificateStore(charger_id="CP/1", v16=True, directory=str(tmp_path))
    folder = tmp_path / "CP%2F1"
    csr = x509.load_pem_x509_csr(store.csr().encode())
    assert stat.S_IMODE((folder / PENDING_KEY_FILE).stat().st_mode) == 0o600
    store.install("ManufacturerRootCertificate", pem(root))

    # Restarted between the CSR and its certificate: the pending key is still there.
    again = CertificateStore(charger_id="CP/1", v16=True, directory=str(tmp_path))
    leaf = certificate(subject="CP/1", key=ca_key, public_key=csr.public_key(), issuer=root)
    again.certificate_signed(pem(leaf, root))
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600
    assert not (folder / PENDING_KEY_FILE).exists()
    assert (folder / CERT_FILE).exists()

    third = CertificateStore(charger_id="CP/1", v16=True, directory=str(tmp_path))
    assert third.station == [leaf, root]
    assert [(r.certificate_type, r.certificate) for r in third.installed()] == [
        ("ManufacturerRootCertificate", root)
    ]
    assert third.key is not None
    assert third.key.public_key().public_numbers() == csr.public_key().public_numbers()
    assert not third.needs_certificate()


def test_an_expired_station_certificate_is_asked_for_again(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    folder = tmp_path / "CP-1"
    folder.mkdir()
    (folder / CERT_FILE).write_text(pem(certificate(subject="CP-1", key=key, days=-1)))
    store = CertificateStore(charger_id="CP-1", v16=False, directory=str(tmp_path))
    assert store.station
    assert store.needs_certificate()
    assert CertificateStore(charger_id="CP-2", v16=False).needs_certificate()
