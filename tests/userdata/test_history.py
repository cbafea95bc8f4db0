"""Change history: an operator's admin edit shows on the object's history page; no secrets."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.rfid.models import IdTag
from apps.security.passwords import password_hash
from tests.personas import ALL_SITES, grant
from tests.userdata.data import SECRET, build_graph

pytestmark = pytest.mark.django_db


class FormFields(HTMLParser):
    """The fields of one form of a page, as a browser would submit them unchanged."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.inside = attr.get("id") == self.form_id
        if not self.inside:
            return
        name = attr.get("name")
        if tag == "input" and name and attr.get("type") not in {"submit", "button", "file"}:
            if attr.get("type") in {"checkbox", "radio"} and "checked" not in attr:
                return
            self.data.setdefault(name, []).append(attr.get("value") or "")
        elif tag == "select" and name:
            self.select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in attr:
            self.data[self.select].append(attr.get("value") or "")
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea][0] += (
                data.lstrip("\n") if not self.data[self.textarea][0] else data
            )


def change_form(client: Client, url: str, form_id: str) -> dict[str, list[str]]:
    page = client.get(url)
    assert page.status_code == 200
    parser = FormFields(form_id)
    parser.feed(page.content.decode())
    assert parser.data, "the change form was not found"
    return parser.data


@pytest.fixture
def operator_x():
    user = get_user_model().objects.create_user(
        "xavier", password="x" * 20, first_name="Xavier", last_name="Rossi", is_staff=True
    )
    grant(
        user,
        "chargers.view_chargingstation",
        "chargers.change_chargingstation",
        "rfid.view_idtag",
        "rfid.change_idtag",
        ALL_SITES,
    )
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_edit_shows_on_the_station_history_page_without_password_hashes(operator_x):
    graph = build_graph()
    station = graph["station"]
    url = reverse("admin:chargers_chargingstation_change", args=[station.pk])
    data = change_form(operator_x, url, "chargingstation_form")
    data["name"] = ["Gate North"]

    response = operator_x.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    station.refresh_from_db()
    assert station.name == "Gate North"
    # The password rotates afterwards (a service, no operator): still never recorded.
    station.password_hash = password_hash(SECRET + "2")
    station.save(update_fields=["password_hash"])
    history = operator_x.get(reverse("admin:chargers_chargingstation_history", args=[station.pk]))
    page = history.content.decode()
    assert history.status_code == 200
    assert 'id="userdata-changes"' in page
    table = page[page.index('id="userdata-changes"') :]
    assert "xavier" in table and "Xavier Rossi" in table
    assert "Gate North" in table and "Gate" in table
    assert "name" in table.lower()
    stored = json.dumps([entry.changes for entry in LogEntry.objects.all()])
    assert "Gate North" in stored
    for secret in (
        graph["station"].password_hash,
        graph["station"].pending_password_hash,
        station.password_hash,
        "pbkdf2",
        "password hash",
        "password_hash",
    ):
        assert secret not in page
        assert secret not in stored


def test_an_admin_edit_of_an_id_tag_is_recorded_with_its_field(operator_x):
    build_graph()
    tag = IdTag.objects.get(id_tag="FLEET-1")
    url = reverse("admin:rfid_idtag_change", args=[tag.pk])
    data = change_form(operator_x, url, "idtag_form")
    data["status"] = ["Blocked"]

    assert operator_x.post(url, data).status_code == 302

    page = operator_x.get(reverse("admin:rfid_idtag_history", args=[tag.pk])).content.decode()
    table = page[page.index('id="userdata-changes"') :]
    assert "xavier" in table and "Blocked" in table and "Accepted" in table


def test_the_history_page_stays_closed_to_a_user_without_permission(operator_x):
    build_graph()
    station = ChargingStation.objects.get(charger_id="CP-1")
    nobody = get_user_model().objects.create_user("nobody", password="x" * 20, is_staff=True)
    grant(nobody, ALL_SITES)  # sees every station: only the permission is missing
    client = Client()
    client.force_login(nobody)

    response = client.get(reverse("admin:chargers_chargingstation_history", args=[station.pk]))

    assert response.status_code == 403
