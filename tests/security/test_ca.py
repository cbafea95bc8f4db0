"""The CSMS certificate authority: made on first use or the operator's, CSR checks, leaves."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apps.security import ca
from apps.security.checks import check_ca_settings
from tests.security.csrs import certificate_public_der, make_csr, public_der, rsa_key


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.OCPP_CA_CERT_FILE = ""
    settings.OCPP_CA_KEY_FILE = ""
    settings.OCPP_CERTIFICATE_ORGANIZATION = ""


def test_it_makes_the_ca_on_first_use_with_a_key_only_we_can_read(tmp_path):
    assert not (tmp_path / "ca").exists()
    authority = ca.ca_load()
    key_file = tmp_path / "ca" / ca.CA_KEY_FILE
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    cert = authority.certificate
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(cert)  # self-signed
    assert ca.ca_certificate_path() == tmp_path / "ca" / ca.CA_CERT_FILE
    # A second load finds the same CA: nothing is made again.
    assert ca.ca_load().certificate == cert
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ca"]


def test_it_uses_the_operators_ca_when_configured(settings, tmp_path):
    theirs = tmp_path / "theirs"
    settings.DATA_DIR = theirs  # make one elsewhere, then point the settings at its files
    made = ca.ca_load()
    settings.DATA_DIR = tmp_path / "ours"
    settings.OCPP_CA_CERT_FILE = str(theirs / "ca" / ca.CA_CERT_FILE)
    settings.OCPP_CA_KEY_FILE = str(theirs / "ca" / ca.CA_KEY_FILE)
    assert ca.ca_load().certificate == made.certificate
    assert not (tmp_path / "ours" / "ca").exists()


def test_it_refuses_a_key_that_is_not_the_certificates(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "one"
    one = ca.ca_load()
    settings.DATA_DIR = tmp_path / "two"
    ca.ca_load()
    settings.OCPP_CA_CERT_FILE = str(one.cert_path)
    settings.OCPP_CA_KEY_FILE = str(tmp_path / "two" / "ca" / ca.CA_KEY_FILE)
    with pytest.raises(ValueError, match="is not the key of the certificate"):
        ca.ca_load()


def test_a_csr_for_the_charger_is_signed_for_tls_clients():
    key, csr_pem = make_csr("CP-1")
    csr = ca.csr_check(csr_pem=csr_pem, charger_id="CP-1")
    authority = ca.ca_load()
    cert = ca.certificate_issue(
        ca=authority, subject=csr.subject, public_key=csr.public_key(), days=30
    )
    cert.verify_directly_issued_by(authority.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert public_der(key) == certificate_public_der(cert)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30


def test_an_rsa_csr_of_2048_bits_is_accepted():
    _, csr_pem = make_csr("CP-RSA", key=rsa_key(2048))
    assert ca.csr_check(csr_pem=csr_pem, charger_id="CP-RSA")


@pytest.mark.parametrize(
    ("charger_id", "csr_args", "reason"),
    [
        ("CP-1", ("CP-2",), "InvalidCommonName"),
        ("CP-1", ("cp-1",), "InvalidCommonName"),
        ("CP-1", ("CP-1", "Other CPO"), "InvalidOrganization"),
        ("CP-1", ("CP-1",), "InvalidOrganization"),
    ],
)
def test_a_csr_naming_someone_else_is_refused(settings, charger_id, csr_args, reason):
    settings.OCPP_CERTIFICATE_ORGANIZATION = "Our CPO"
    _, csr_pem = make_csr(*csr_args)
    with pytest.raises(ca.CsrRefused) as refused:
        ca.csr_check(csr_pem=csr_pem, charger_id=charger_id)
    assert refused.value.reason == reason


def test_the_organization_is_checked_only_when_configured(settings):
    _, csr_pem = make_csr("CP-1", "Our CPO")
    assert ca.csr_check(csr_pem=csr_pem, charger_id="CP-1")
    settings.OCPP_CERTIFICATE_ORGANIZATION = "Our CPO"
    assert ca.csr_check(csr_pem=csr_pem, charger_id="CP-1")


def test_a_csr_whose_signature_does_not_verify_is_refused():
    _, csr_pem = make_csr("CP-1")
    lines = csr_pem.strip().splitlines()
    der = bytearray(base64.b64decode("".join(lines[1:-1])))
    der[-3] ^= 0xFF  # inside the signature
    body = base64.encodebytes(bytes(der)).decode()
    tampered = f"{lines[0]}\n{body}{lines[-1]}\n"
    with pytest.raises(ca.CsrRefused) as refused:
        ca.csr_check(csr_pem=tampered, charger_id="CP-1")
    assert refused.value.reason in ("InvalidSignature", "InvalidCSR")


@pytest.mark.parametrize("garbage", ["", "hello", "-----BEGIN CERTIFICATE REQUEST-----\n"])
def test_garbage_is_refused_with_a_reason(garbage):
    with pytest.raises(ca.CsrRefused) as refused:
        ca.csr_check(csr_pem=garbage, charger_id="CP-1")
    assert refused.value.reason == "InvalidCSR"


def test_a_weak_rsa_key_is_refused():
    _, csr_pem = make_csr("CP-1", key=rsa_key(1024))
    with pytest.raises(ca.CsrRefused) as refused:
        ca.csr_check(csr_pem=csr_pem, charger_id="CP-1")
    assert refused.value.reason == "WeakKey"


def test_a_server_certificate_for_tls_comes_from_the_ca():
    chain_pem, key_pem = ca.server_certificate_issue(hostnames=("csms.example",), days=10)
    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    authority = ca.ca_load()
    chain[0].verify_directly_issued_by(authority.certificate)
    assert chain[1:] == list(authority.chain)
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["csms.example"]
    usage = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert public_der(key) == certificate_public_der(chain[0])


def test_an_encrypted_operator_key_needs_its_password(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "made"
    made = ca.ca_load()
    encrypted = tmp_path / "ca-encrypted.key"
    encrypted.write_bytes(
        made.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    settings.OCPP_CA_CERT_FILE = str(made.cert_path)
    settings.OCPP_CA_KEY_FILE = str(encrypted)
    with pytest.raises(ValueError, match="OCPP_CA_KEY_PASSWORD"):
        ca.ca_load()
    settings.OCPP_CA_KEY_PASSWORD = "s3cret"
    assert ca.ca_load().certificate == made.certificate


def test_the_system_check_reports_ca_settings(settings, tmp_path):
    assert check_ca_settings() == []
    settings.OCPP_CA_CERT_FILE = str(tmp_path / "missing.pem")
    assert [error.id for error in check_ca_settings()] == ["security.E001"]
    settings.OCPP_CA_KEY_FILE = str(tmp_path / "missing.key")
    assert [error.id for error in check_ca_settings()] == ["security.E002"]
    settings.OCPP_CA_CERT_FILE = settings.OCPP_CA_KEY_FILE = ""
    settings.OCPP_CERTIFICATE_VALIDITY_DAYS = 0
    assert [error.id for error in check_ca_settings()] == ["security.E003"]
