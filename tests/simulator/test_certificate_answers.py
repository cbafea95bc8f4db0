"""Simulated chargers and the CSMS's certificate authority, over real sockets.

The operations go through the command service as the admin and API send them; the CSMS
signs with its real CA (in the test's DATA_DIR); the simulated chargers make their keys and
CSRs with `cryptography` and check what comes back.
"""

from __future__ import annotations

import asyncio
import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import run_operation
from apps.security import ca
from apps.security.models import InstalledCertificate, IssuedCertificate
from apps.simulator.certificates import KEY_FILE
from apps.simulator.fleet import Fleet, FleetConfig
from tests.commands.helpers import wait_final
from tests.pki import self_signed
from tests.simulator.conftest import VERSIONS, db, eventually, running, until
from tests.simulator.test_commands import online

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_organization(settings):
    settings.OCPP_CERTIFICATE_ORGANIZATION = ""


def root_type(version: str) -> str:
    return "CentralSystemRootCertificate" if version == "1.6" else "CSMSRootCertificate"


async def operation(server: Any, charger_id: str, name: str, **arguments: Any) -> ChargerCommand:
    def send() -> ChargerCommand:
        station = ChargingStation.objects.get(charger_id=charger_id)
        return run_operation(station=station, operation=name, arguments=arguments)

    sent = await server.run(send)
    return await wait_final(sent.pk)


def public_der(key_or_cert: Any) -> bytes:
    return key_or_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def other_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key, cert = self_signed("Somebody else's CA", days=30, ca=True)
    return cert, key


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_triggered_csr_brings_a_certificate_that_verifies_against_the_ca(
    asgi_server, tmp_path, version
):
    charger_id = f"SIM-CERT-{version}"
    async with running(
        asgi_server, charger_id, version, mode="idle", state_dir=str(tmp_path)
    ) as charger:
        await online(charger_id, charger)
        installed = await operation(
            asgi_server, charger_id, "install_certificate", certificate_type=root_type(version)
        )
        assert installed.status == CommandStatus.ACCEPTED
        # ExtendedTriggerMessage (1.6) / TriggerMessage (2.x), as the renewal sends it.
        trigger = await operation(asgi_server, charger_id, "renew_certificate")
        expected = "ExtendedTriggerMessage" if version == "1.6" else "TriggerMessage"
        assert trigger.action == expected
        assert trigger.status == CommandStatus.ACCEPTED
        issued = await eventually(
            lambda: IssuedCertificate.objects.filter(station__charger_id=charger_id).first(),
            what="the CSR signed",
        )
        delivery = await wait_final(issued.delivery_id)
        assert (delivery.action, delivery.status) == ("CertificateSigned", CommandStatus.ACCEPTED)
        await until(lambda: charger.stats.certificates_signed == 1, what="certificate taken")
    authority = await db(ca.ca_load)
    leaf, *rest = charger.certificates.station
    leaf.verify_directly_issued_by(authority.certificate)
    assert rest == list(authority.chain)
    assert format(leaf.serial_number, "x") == issued.serial
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == charger_id
    assert public_der(charger.certificates.key) == public_der(leaf)
    key_file = Path(tmp_path) / charger_id / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert public_der(stored) == public_der(leaf)
    assert charger.stats.certificate_requests == 1
    assert charger.stats.errors == 0, charger.stats.last_error


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_fleet_asks_for_its_certificates_at_boot(asgi_server, settings, tmp_path, version):
    settings.OCPP_CERTIFICATE_ORGANIZATION = "Simulated CPO"
    fleet = Fleet(
        FleetConfig(
            count=2,
            url=f"{asgi_server.ws_url}/ocpp/",
            version=version,
            prefix=f"SIM-BOOTCERT-{version}-",
            mode="idle",
            options={
                "request_certificate": True,
                "organization": "Simulated CPO",
                "state_dir": str(tmp_path),
                "reconnect_min_s": 0.05,
            },
        )
    )
    task = asyncio.create_task(fleet.run())
    try:
        await until(
            lambda: fleet.stats.certificates_signed == 2 or task.done(),
            what="both chargers certified",
        )
    finally:
        fleet.request_stop()
        await task
    assert fleet.stats.certificates_signed == 2, fleet.stats
    assert fleet.stats.errors == 0, fleet.stats.last_error
    for charger in fleet.chargers:
        leaf = charger.certificates.station[0]
        subject = leaf.subject
        assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
            "Simulated CPO"
        )
        issued = await db(IssuedCertificate.objects.get, station__charger_id=charger.charger_id)
        assert issued.serial == format(leaf.serial_number, "x")
        # The certificate is kept: a charger started again does not ask again.
        assert (Path(tmp_path) / charger.charger_id / "station.pem").exists()


@pytest.mark.parametrize("version", VERSIONS)
async def test_install_list_and_delete_round_trip(asgi_server, version):
    charger_id = f"SIM-ROOTS-{version}"
    kind = root_type(version)
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        nothing = await operation(
            asgi_server, charger_id, "get_installed_certificate_ids", certificate_type=kind
        )
        assert nothing.response["status"] == "NotFound"

        broken = await operation(
            asgi_server,
            charger_id,
            "install_certificate",
            certificate_type=kind,
            certificate="-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        )
        assert broken.response["status"] == "Rejected"
        installed = await operation(
            asgi_server, charger_id, "install_certificate", certificate_type=kind
        )
        assert installed.response["status"] == "Accepted"

        listed = await operation(
            asgi_server, charger_id, "get_installed_certificate_ids", certificate_type=kind
        )
        assert listed.response["status"] == "Accepted"
        row = await db(InstalledCertificate.objects.get, station__charger_id=charger_id)
        # The hash data as OCPP defines it (OCSP CertID), computed here without the charger.
        root = (await db(ca.ca_load)).chain[-1]
        assert row.certificate_type == kind
        assert row.hash_algorithm == "SHA256"
        assert row.issuer_name_hash == hashlib.sha256(root.issuer.public_bytes()).hexdigest()
        key_bits = root.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        assert row.issuer_key_hash == hashlib.sha256(key_bits).hexdigest()
        assert row.serial_number == format(root.serial_number, "x")

        hash_data = {
            "hash_algorithm": row.hash_algorithm,
            "issuer_name_hash": row.issuer_name_hash,
            "issuer_key_hash": row.issuer_key_hash,
            "serial_number": row.serial_number,
        }
        deleted = await operation(asgi_server, charger_id, "delete_certificate", **hash_data)
        assert deleted.response["status"] == "Accepted"
        assert charger.certificates.roots == []
        again = await operation(asgi_server, charger_id, "delete_certificate", **hash_data)
        assert again.response["status"] == "NotFound"
        gone = await operation(
            asgi_server, charger_id, "get_installed_certificate_ids", certificate_type=kind
        )
        assert gone.response["status"] == "NotFound"
    assert not await db(InstalledCertificate.objects.filter(station__charger_id=charger_id).exists)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_certificate_not_for_its_key_or_root_is_rejected(asgi_server, version):
    charger_id = f"SIM-WRONGCERT-{version}"
    async with running(asgi_server, charger_id, version, mode="idle") as charger:
        await online(charger_id, charger)
        await operation(
            asgi_server, charger_id, "install_certificate", certificate_type=root_type(version)
        )
        authority = await db(ca.ca_load)
        csr = x509.load_pem_x509_csr(charger.certificates.csr().encode())

        def sent(cert: x509.Certificate, *chain: x509.Certificate) -> str:
            return "".join(ca.certificate_pem(c) for c in (cert, *chain))

        # The CSMS's CA, but for another key.
        stranger = ec.generate_private_key(ec.SECP256R1())
        wrong_key = ca.certificate_issue(
            ca=authority, subject=csr.subject, public_key=stranger.public_key(), days=30
        )
        # The charger's key, but signed by a CA it was not given.
        foreign_cert, foreign_key = other_ca()
        foreign = ca.CertificateAuthority(
            certificate=foreign_cert, key=foreign_key, chain=(foreign_cert,), cert_path=Path()
        )
        wrong_root = ca.certificate_issue(
            ca=foreign, subject=csr.subject, public_key=csr.public_key(), days=30
        )
        right = ca.certificate_issue(
            ca=authority, subject=csr.subject, public_key=csr.public_key(), days=30
        )
        answers = []
        for chain in (
            sent(wrong_key, *authority.chain),
            sent(wrong_root, foreign_cert),
            "not a certificate",
            sent(right, *authority.chain),
        ):
            answer = await operation(
                asgi_server, charger_id, "certificate_signed", certificate_chain=chain
            )
            answers.append(answer.response["status"])
    assert answers == ["Rejected", "Rejected", "Rejected", "Accepted"]
    assert charger.certificates.station[0] == right
    assert charger.stats.certificates_signed == 1
