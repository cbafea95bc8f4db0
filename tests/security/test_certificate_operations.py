"""The certificate operations' forms on the station page build each version's payload."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand
from apps.security import ca
from apps.security.models import InstalledCertificate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def offline_and_own_ca(settings, tmp_path):
    settings.OCPP_QUEUE_OFFLINE_COMMANDS = False
    settings.DATA_DIR = tmp_path
    settings.OCPP_CA_CERT_FILE = settings.OCPP_CA_KEY_FILE = ""


def page(station: ChargingStation, name: str) -> str:
    return reverse("admin:chargers_chargingstation_command", args=[station.pk, name])


def sent(station: ChargingStation) -> ChargerCommand:
    return ChargerCommand.objects.get(station=station)


@pytest.mark.parametrize(
    ("version", "certificate_type"),
    [("ocpp1.6", "CentralSystemRootCertificate"), ("ocpp2.0.1", "CSMSRootCertificate")],
)
def test_install_certificate_sends_the_ca_when_left_empty(admin_client, version, certificate_type):
    station = ChargingStation.objects.create(charger_id="OPS-INST", ocpp_version=version)
    response = admin_client.post(
        page(station, "install_certificate"), {"certificate_type": certificate_type}
    )
    assert response.status_code == 302
    command = sent(station)
    assert command.payload == {
        "certificateType": certificate_type,
        "certificate": ca.certificate_pem(ca.ca_load().certificate),
    }


def test_delete_certificate_offers_the_reported_ones(admin_client):
    station = ChargingStation.objects.create(charger_id="OPS-DEL", ocpp_version="ocpp2.0.1")
    other = ChargingStation.objects.create(charger_id="OPS-OTHER", ocpp_version="ocpp2.0.1")
    fields = {
        "certificate_type": "CSMSRootCertificate",
        "hash_algorithm": "SHA256",
        "issuer_name_hash": "aa",
        "issuer_key_hash": "bb",
        "reported_at": timezone.now(),
    }
    mine = InstalledCertificate.objects.create(station=station, serial_number="01", **fields)
    theirs = InstalledCertificate.objects.create(station=other, serial_number="02", **fields)
    form = admin_client.get(page(station, "delete_certificate")).context["form"]
    assert list(form.fields["installed"].queryset) == [mine]
    refused = admin_client.post(page(station, "delete_certificate"), {"installed": theirs.pk})
    assert refused.status_code == 200  # not one of this station's: the form says so
    assert not ChargerCommand.objects.exists()
    admin_client.post(page(station, "delete_certificate"), {"installed": mine.pk})
    assert sent(station).payload == {"certificateHashData": mine.hash_data()}


@pytest.mark.parametrize(
    ("version", "arguments", "payload"),
    [
        ("ocpp1.6", {}, None),  # 1.6 needs a type
        (
            "ocpp1.6",
            {"certificate_type": "ManufacturerRootCertificate"},
            {"certificateType": "ManufacturerRootCertificate"},
        ),
        ("ocpp2.0.1", {}, {}),
        (
            "ocpp2.1",
            {"certificate_type": "V2GCertificateChain"},
            {"certificateType": ["V2GCertificateChain"]},
        ),
    ],
)
def test_get_installed_certificate_ids_per_version(admin_client, version, arguments, payload):
    station = ChargingStation.objects.create(charger_id="OPS-GET", ocpp_version=version)
    admin_client.post(page(station, "get_installed_certificate_ids"), arguments)
    if payload is None:
        assert not ChargerCommand.objects.exists()
    else:
        assert sent(station).payload == payload


@pytest.mark.parametrize(
    ("version", "arguments", "action", "payload"),
    [
        (
            "ocpp1.6",
            {},
            "ExtendedTriggerMessage",
            {"requestedMessage": "SignChargePointCertificate"},
        ),
        (
            "ocpp2.0.1",
            {"kind": "V2GCertificate"},
            "TriggerMessage",
            {"requestedMessage": "SignV2GCertificate"},
        ),
    ],
)
def test_renew_certificate_asks_for_a_csr(admin_client, version, arguments, action, payload):
    station = ChargingStation.objects.create(charger_id="OPS-RENEW", ocpp_version=version)
    admin_client.post(page(station, "renew_certificate"), arguments)
    command = sent(station)
    assert (command.action, command.payload) == (action, payload)
