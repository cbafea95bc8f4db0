"""The my-data page: export download, upload → dry-run diff → confirm, clear errors."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.chargers.models import ChargingStation, Site
from apps.energy.models import EnergyAccount
from apps.nodes.services import this_node
from apps.rfid.models import IdTag
from apps.userdata.selectors import bundle_export
from tests.userdata.data import build_graph, counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client():
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    client = Client()
    client.force_login(root)
    return client


def upload(client: Client, bundle: object, **extra: str):
    raw = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    return client.post(
        reverse("userdata:import"),
        {"file": SimpleUploadedFile("bundle.json", raw, "application/json"), **extra},
    )


def test_the_page_asks_for_a_login():
    response = Client().get(reverse("userdata:page"))

    assert response.status_code == 302 and reverse("portal:login") in response["Location"]
    assert Client().get(reverse("userdata:export")).status_code == 302


def test_an_owner_downloads_their_bundle():
    graph = build_graph()
    client = Client()
    client.force_login(graph["owner"])

    response = client.get(reverse("userdata:export"))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="userdata-alice-')
    bundle = json.loads(response.content)
    assert [row["name"] for row in bundle["objects"]["energy.energyaccount"]] == ["Alice home"]
    assert bundle["objects"]["chargers.chargingstation"] == []


def test_upload_shows_the_diff_then_confirm_imports(root_client):
    build_graph()
    bundle = bundle_export(user=get_user_model().objects.get(username="root"))
    bundle["objects"]["chargers.site"].append(
        {"name": "Harbour", "address": "Molo 3", "time_zone": "Europe/Rome"}
    )

    preview = upload(root_client, bundle)

    page = preview.content.decode()
    assert preview.status_code == 200
    assert "Harbour" in page and "create" in page and "unchanged" in page
    assert not Site.objects.filter(name="Harbour").exists()
    assert reverse("userdata:confirm") in page

    done = root_client.post(reverse("userdata:confirm"))

    assert done.status_code == 302
    assert Site.objects.get(name="Harbour").address == "Molo 3"
    follow = root_client.get(done["Location"]).content.decode()
    assert "1 created" in follow


def test_a_conflicting_upload_is_shown_and_cannot_be_confirmed(root_client):
    build_graph()
    bundle = bundle_export(user=get_user_model().objects.get(username="root"))
    bundle["objects"]["chargers.chargingstation"][0]["vendor"] = "Other"
    before = counts()

    preview = upload(root_client, bundle)

    page = preview.content.decode()
    assert preview.status_code == 409
    assert "conflict" in page and "vendor" in page and "ACME" in page and "Other" in page
    assert reverse("userdata:confirm") not in page
    confirm = root_client.post(reverse("userdata:confirm"))
    assert confirm.status_code == 400
    assert ChargingStation.objects.get(charger_id="CP-1").vendor == "ACME"
    assert counts() == before


def test_overwrite_from_the_page_updates(root_client):
    build_graph()
    bundle = bundle_export(user=get_user_model().objects.get(username="root"))
    bundle["objects"]["chargers.chargingstation"][0]["vendor"] = "Other"

    assert upload(root_client, bundle, overwrite="on").status_code == 200
    assert root_client.post(reverse("userdata:confirm")).status_code == 302

    assert ChargingStation.objects.get(charger_id="CP-1").vendor == "Other"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"format": "constellation-userdata", "version": 7, "objects": {}}', "version 7"),
        (b'{"format": "x"}', "not a user data bundle"),
    ],
)
def test_a_bad_file_gets_a_400_with_the_reason(root_client, raw, message):
    response = upload(root_client, raw)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_import_the_owner_may_not_make_is_refused(root_client):
    graph = build_graph()
    mallory = get_user_model().objects.create_user("mallory", password="x" * 20)
    bundle = bundle_export(user=graph["owner"])
    bundle["objects"]["energy.energyaccount"][0]["credit_limit"] = "999"
    client = Client()
    client.force_login(mallory)

    response = upload(client, bundle, overwrite="on")

    assert response.status_code == 409
    assert EnergyAccount.objects.get(name="Alice home").credit_limit == 12.5
    assert IdTag.objects.count() == 3


def test_the_page_and_its_diff_speak_italian(root_client):
    build_graph()
    bundle = bundle_export(user=get_user_model().objects.get(username="root"))
    bundle["objects"]["chargers.chargingstation"][0]["vendor"] = "Other"

    page = root_client.get(reverse("userdata:page"), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    raw = json.dumps(bundle).encode()
    diff = root_client.post(
        reverse("userdata:import"),
        {"file": SimpleUploadedFile("b.json", raw, "application/json")},
        HTTP_ACCEPT_LANGUAGE="it",
    ).content.decode()

    assert "I miei dati" in page and "Scarica i miei dati (JSON)" in page
    assert "conflitto" in diff and "invariato" in diff
    assert "Esiste già qui con altri valori" in diff


def test_staff_find_their_data_and_the_change_log_on_the_node_admin_page(root_client):
    page = root_client.get(reverse("admin:nodes_node_change", args=[this_node().pk]))

    html = page.content.decode()
    assert page.status_code == 200 and 'id="userdata-panel"' in html
    assert reverse("userdata:export") in html
    assert reverse("admin:auditlog_logentry_changelist") in html
