"""Issued certificates: kept with their delivery, listed, downloaded and revoked (admin, API)."""

from __future__ import annotations

import pytest
from cryptography import x509
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.security import ca
from apps.security.certificates import certificate_request_sign, issued_certificate_revoke
from apps.security.models import IssuedCertificate, SecurityEvent
from tests.security.csrs import make_csr

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_ca(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.OCPP_CA_CERT_FILE = ""
    settings.OCPP_CA_KEY_FILE = ""
    settings.OCPP_CERTIFICATE_ORGANIZATION = ""
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False


@pytest.fixture
def issued() -> IssuedCertificate:
    station = ChargingStation.objects.create(charger_id="REC-1")
    _, csr = make_csr("REC-1")
    return certificate_request_sign(station_id=station.pk, charger_id="REC-1", csr_pem=csr)


def test_an_offline_station_gets_its_certificate_kept_and_the_delivery_recorded(issued):
    # Not connected: the CertificateSigned command ends offline at once, and says so.
    assert issued.delivery.action == "CertificateSigned"
    assert issued.delivery.status == "offline"
    assert issued.delivery.payload["certificateChain"].startswith(issued.pem)


def test_the_admin_lists_and_downloads_certificates_and_the_ca(admin_client, issued):
    listing = admin_client.get(reverse("admin:security_issuedcertificate_changelist"))
    assert listing.status_code == 200
    assert issued.serial in listing.content.decode()
    pem = admin_client.get(reverse("admin:security_issuedcertificate_pem", args=[issued.pk]))
    assert pem.content.decode() == issued.pem
    assert "attachment" in pem["Content-Disposition"]
    chain = admin_client.get(reverse("admin:security_issuedcertificate_ca"))
    (authority,) = x509.load_pem_x509_certificates(chain.content)
    x509.load_pem_x509_certificate(issued.pem.encode()).verify_directly_issued_by(authority)


def test_the_admin_revokes_with_a_reason_and_the_crl_lists_it(admin_client, issued):
    url = reverse("admin:security_issuedcertificate_changelist")
    asked = admin_client.post(url, {"action": "revoke", "_selected_action": [issued.pk]})
    assert asked.status_code == 200  # the page asking for the reason
    assert not IssuedCertificate.objects.get(pk=issued.pk).is_revoked
    admin_client.post(
        url,
        {
            "action": "revoke",
            "_selected_action": [issued.pk],
            "apply": "1",
            "reason": "keyCompromise",
        },
    )
    issued.refresh_from_db()
    assert issued.is_revoked and issued.revocation_reason == "keyCompromise"
    event = SecurityEvent.objects.get(event_type="CertificateRevoked")
    assert issued.serial in event.tech_info
    crl_pem = admin_client.get(reverse("admin:security_issuedcertificate_crl")).content
    crl = x509.load_pem_x509_crl(crl_pem)
    assert crl.is_signature_valid(ca.ca_load().key.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(int(issued.serial, 16))
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise


def test_a_certificate_is_revoked_once(issued):
    assert issued_certificate_revoke(certificate=issued, reason="superseded")
    assert not issued_certificate_revoke(certificate=issued, reason="keyCompromise")
    issued.refresh_from_db()
    assert issued.revocation_reason == "superseded"
    assert SecurityEvent.objects.filter(event_type="CertificateRevoked").count() == 1


def test_an_unknown_reason_is_refused(issued):
    with pytest.raises(ValueError, match="not a revocation reason"):
        issued_certificate_revoke(certificate=issued, reason="because")
    issued.refresh_from_db()
    assert not issued.is_revoked


def test_the_api_lists_and_revokes(client_with, issued):
    viewer = client_with("security.view_issuedcertificate")
    listed = viewer.get("/api/certificates/", {"charger": "REC-1"}).json()
    assert [row["serial"] for row in listed["results"]] == [issued.serial]
    assert listed["results"][0]["delivery_status"] == "offline"
    refused = viewer.post(f"/api/certificates/{issued.pk}/revoke/", {"reason": "superseded"})
    assert refused.status_code == 403
    operator = client_with("security.view_issuedcertificate", "security.change_issuedcertificate")
    bad = operator.post(f"/api/certificates/{issued.pk}/revoke/", {"reason": "because"})
    assert bad.status_code == 400
    done = operator.post(f"/api/certificates/{issued.pk}/revoke/", {"reason": "superseded"})
    assert done.status_code == 200
    assert done.json()["revocation_reason"] == "superseded"
    assert done.json()["revoked_at"] is not None


def test_a_station_with_too_many_commands_waiting_is_refused_and_nothing_kept(settings):
    settings.OCPP_MAX_OUTSTANDING_COMMANDS = 0
    station = ChargingStation.objects.create(charger_id="REC-BUSY")
    _, csr = make_csr("REC-BUSY")
    with pytest.raises(ca.CsrRefused) as refused:
        certificate_request_sign(station_id=station.pk, charger_id="REC-BUSY", csr_pem=csr)
    assert refused.value.reason == "TooManyCommands"
    assert not IssuedCertificate.objects.exists()
    assert SecurityEvent.objects.filter(event_type="CommandLimitReached").count() == 1
