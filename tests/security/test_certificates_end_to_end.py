"""Station certificates over real sockets: signing CSRs, install/delete/list, renewal, 15118.

The charger is the `ocpp` library's charge point (tests/ocpp/charger.py) holding a key it
made with `cryptography`; the CSMS is the project's ASGI application on a loopback port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import time

import pytest
from asgiref.sync import sync_to_async
from cryptography import x509
from cryptography.x509.oid import NameOID

from apps.chargers.models import ChargingStation
from apps.commands.registry import run_operation
from apps.security import ca
from apps.security.certificates import CSR_REFUSED_EVENT
from apps.security.models import InstalledCertificate, IssuedCertificate, SecurityEvent
from apps.security.tasks import renew_station_certificates
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger
from tests.security.csrs import certificate_public_der, make_csr, public_der

pytestmark = pytest.mark.django_db(transaction=True)

VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
MODULES = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}
HASH = {
    "hash_algorithm": "SHA256",
    "issuer_name_hash": "a" * 64,
    "issuer_key_hash": "b" * 64,
    "serial_number": "1f",
}


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_CERTIFICATE_ORGANIZATION = ""


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def call_module(version: str):
    return importlib.import_module(f"ocpp.{MODULES[version]}.call")


async def boot(cp, version: str) -> None:
    call = call_module(version)
    if version == "ocpp1.6":
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    else:
        await cp.call(
            call.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )


async def received(cp, action: str, count: int = 1, within: float = 15.0) -> list[dict]:
    """Wait (bounded) until the charger was sent `count` CALLs of `action`; return them."""
    deadline = time.monotonic() + within
    while len(cp.received[action]) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{action} was not received (got {dict(cp.received)})")
        await asyncio.sleep(0.02)
    return cp.received[action]


async def operation(server, charger_id: str, name: str, **arguments):
    def send():
        station = ChargingStation.objects.get(charger_id=charger_id)
        return run_operation(station=station, operation=name, arguments=arguments)

    sent = await server.run(send)
    return await wait_final(sent.pk)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_csr_is_signed_and_the_chain_sent_back(asgi_server, version):
    charger_id = f"CERT-OK-{MODULES[version]}"
    key, csr = make_csr(charger_id)
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        answer = await cp.call(call_module(version).SignCertificate(csr=csr))
        assert answer.status == "Accepted"
        (delivered,) = await received(cp, "CertificateSigned")
        issued = await db(
            IssuedCertificate.objects.select_related("delivery").get,
            station__charger_id=charger_id,
        )
        delivery = await wait_final(issued.delivery_id)  # the charger's answer, on this socket
    chain = x509.load_pem_x509_certificates(delivered["certificate_chain"].encode())
    authority = await db(ca.ca_load)
    leaf = chain[0]
    leaf.verify_directly_issued_by(authority.certificate)
    assert chain[1:] == list(authority.chain)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == charger_id
    assert public_der(key) == certificate_public_der(leaf)
    if version != "ocpp1.6":
        assert delivered["certificate_type"] == "ChargingStationCertificate"
    assert issued.serial == format(leaf.serial_number, "x")
    assert issued.not_after == leaf.not_valid_after_utc
    assert issued.kind == "ChargingStationCertificate"
    assert (delivery.action, delivery.status) == ("CertificateSigned", "accepted")


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_a_v2g_csr_is_signed_as_a_v2g_certificate(asgi_server, version):
    charger_id = f"CERT-V2G-{MODULES[version]}"
    _, csr = make_csr(charger_id)
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        call = call_module(version)
        answer = await cp.call(call.SignCertificate(csr=csr, certificate_type="V2GCertificate"))
        assert answer.status == "Accepted"
        (delivered,) = await received(cp, "CertificateSigned")
    assert delivered["certificate_type"] == "V2GCertificate"
    issued = await db(IssuedCertificate.objects.get, station__charger_id=charger_id)
    assert issued.kind == "V2GCertificate"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_csr_for_another_charger_is_rejected_and_recorded(asgi_server, version):
    charger_id = f"CERT-BAD-{MODULES[version]}"
    _, csr = make_csr("SOMEONE-ELSE")
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        answer = await cp.call(call_module(version).SignCertificate(csr=csr))
        # A command after the answer: the CertificateSigned it would have come before it.
        await operation(asgi_server, charger_id, "clear_cache")
    assert answer.status == "Rejected"
    if version != "ocpp1.6":
        assert answer.status_info["reason_code"] == "InvalidCommonName"
    assert cp.received["CertificateSigned"] == []
    assert not await db(IssuedCertificate.objects.filter(station__charger_id=charger_id).exists)
    event = await db(SecurityEvent.objects.get, charger_id=charger_id)
    assert (event.source, event.event_type) == ("csms", CSR_REFUSED_EVENT)
    assert "SOMEONE-ELSE" in event.tech_info


@pytest.mark.parametrize("version", VERSIONS)
async def test_install_list_and_delete_certificates(asgi_server, version):
    charger_id = f"CERT-INST-{MODULES[version]}"
    root_type = "CentralSystemRootCertificate" if version == "ocpp1.6" else "CSMSRootCertificate"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        installed = await operation(
            asgi_server, charger_id, "install_certificate", certificate_type=root_type
        )
        assert installed.status == "accepted"
        (install,) = cp.received["InstallCertificate"]
        authority = await db(ca.ca_load)
        assert install["certificate"] == ca.certificate_pem(authority.chain[-1])
        assert install["certificate_type"] == root_type

        if version == "ocpp1.6":
            cp.replies["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificate_hash_data": [HASH],
            }
        else:
            cp.replies["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificate_hash_data_chain": [
                    {"certificate_type": root_type, "certificate_hash_data": HASH}
                ],
            }
        listed = await operation(
            asgi_server, charger_id, "get_installed_certificate_ids", certificate_type=root_type
        )
        assert listed.status == "accepted"
        rows = await db(
            lambda: list(
                InstalledCertificate.objects.filter(station__charger_id=charger_id).values_list(
                    "certificate_type", "serial_number", "issuer_key_hash"
                )
            )
        )
        assert rows == [(root_type, "1f", "b" * 64)]

        row = await db(InstalledCertificate.objects.get, station__charger_id=charger_id)
        deleted = await operation(
            asgi_server,
            charger_id,
            "delete_certificate",
            **{name: getattr(row, name) for name in HASH},
        )
        assert deleted.status == "accepted"
        assert cp.received["DeleteCertificate"] == [{"certificate_hash_data": HASH}]
    assert not await db(InstalledCertificate.objects.filter(station__charger_id=charger_id).exists)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_certificate_near_its_end_is_renewed(asgi_server, settings, version):
    settings.OCPP_CERTIFICATE_RENEWAL_DAYS = 30
    charger_id = f"CERT-RENEW-{MODULES[version]}"
    _, csr = make_csr(charger_id)
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        await cp.call(call_module(version).SignCertificate(csr=csr))
        await received(cp, "CertificateSigned")
        # Not due yet: a certificate of a year is left alone.
        assert await asgi_server.run(renew_station_certificates) == 0
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
        await db(
            IssuedCertificate.objects.filter(station__charger_id=charger_id).update,
            not_after=soon,
        )
        assert await asgi_server.run(renew_station_certificates) == 1
        if version == "ocpp1.6":
            (trigger,) = await received(cp, "ExtendedTriggerMessage")
            assert trigger == {"requested_message": "SignChargePointCertificate"}
        else:
            (trigger,) = await received(cp, "TriggerMessage")
            assert trigger == {"requested_message": "SignChargingStationCertificate"}
        # Asked once a day at most, and a new certificate ends the renewal.
        assert await asgi_server.run(renew_station_certificates) == 0
        _, csr = make_csr(charger_id)
        await cp.call(call_module(version).SignCertificate(csr=csr))
        await received(cp, "CertificateSigned", count=2)
    issued = await db(
        lambda: list(IssuedCertificate.objects.filter(station__charger_id=charger_id))
    )
    assert len(issued) == 2
    assert issued[1].renewal_requested_at is not None  # the old one, ordered newest first


async def test_a_v16_security_event_is_recorded(asgi_server):
    call = call_module("ocpp1.6")
    async with connect_charger(asgi_server.ws_url, "SEC-EV-16", "ocpp1.6") as cp:
        await boot(cp, "ocpp1.6")
        await cp.call(
            call.SecurityEventNotification(
                type="FirmwareUpdated", timestamp="2026-12-01T10:00:00Z", tech_info="v2.0"
            )
        )
    event = await db(SecurityEvent.objects.get, charger_id="SEC-EV-16")
    assert (event.source, event.event_type) == ("station", "FirmwareUpdated")
    assert event.tech_info == "v2.0"


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_15118_certificate_requests_fail_honestly(asgi_server, version):
    call = call_module(version)
    hash_data = {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": "a" * 64,
        "issuer_key_hash": "b" * 64,
        "serial_number": "1f",
        "responder_url": "http://ocsp.example",
    }
    async with connect_charger(asgi_server.ws_url, f"V2G-{MODULES[version]}", version) as cp:
        await boot(cp, version)
        # The library spells the field differently per version.
        schema = "iso15118_schema_version" if version == "ocpp2.0.1" else "iso_15118_schema_version"
        ev = await cp.call(
            call.Get15118EVCertificate(
                action="Install", exi_request="AAAA", **{schema: "urn:iso:15118:2:2013:MsgDef"}
            )
        )
        status = await cp.call(call.GetCertificateStatus(ocsp_request_data=hash_data))
    assert (ev.status, ev.status_info["reason_code"]) == ("Failed", "NoV2GPKI")
    assert (status.status, status.status_info["reason_code"]) == ("Failed", "NoOCSPResponder")
