"""The admin index grouped by what operators do (issue #20.2)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.dashboard.admin_index import GROUPS, PLACES, admin_index_groups

pytestmark = pytest.mark.django_db


def _group_of_each_link(page: str) -> dict[str, str]:
    """Return changelist url → group key, read from the rendered index."""
    found: dict[str, str] = {}
    for key, body in re.findall(r'id="cc-group-([a-z]+)">(.*?)</table>', page, flags=re.DOTALL):
        for url in re.findall(r'<a href="([^"]+)" class="(?:changelink|viewlink)"', body):
            found[url] = key
    return found


def test_every_registered_model_is_in_a_group_of_the_index(admin_client):
    page = admin_client.get("/admin/").content.decode()
    groups = _group_of_each_link(page)
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert url in groups, f"{opts.label} is left out of the admin index"


def test_the_groups_come_in_the_order_operators_work(admin_client):
    page = admin_client.get("/admin/").content.decode()
    keys = re.findall(r'id="cc-group-([a-z]+)"', page)
    keys = list(dict.fromkeys(keys))  # "more" names its <details> and its module
    assert keys == [key for key, _name in GROUPS]
    groups = _group_of_each_link(page)
    assert groups["/admin/chargers/chargingstation/"] == "stations"
    assert groups["/admin/transactions/transaction/"] == "sessions"
    assert groups["/admin/commands/chargercommand/"] == "commands"
    assert groups["/admin/ocpp/messagelog/"] == "live"
    assert groups["/admin/django_celery_beat/periodictask/"] == "more"
    assert groups["/admin/authtoken/tokenproxy/"] == "more"


def test_rarely_used_models_are_tucked_away_behind_more(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert re.search(
        r'<details class="cc-index-more" id="cc-group-more"><summary>More</summary>', page
    )
    stations = page.index('id="cc-group-stations"')
    assert page.index("/admin/django_celery_beat/") > stations
    assert page.index("/admin/axes/accessattempt/") > stations


def test_a_model_without_a_place_goes_to_more():
    app_list = [
        {
            "app_label": "newapp",
            "name": "New app",
            "models": [{"object_name": "Thing", "name": "things", "admin_url": "/x/"}],
        },
        {
            "app_label": "chargers",
            "name": "Chargers",
            "models": [{"object_name": "ChargingStation", "name": "stations", "admin_url": "/s/"}],
        },
    ]
    groups = {group["key"]: group["models"] for group in admin_index_groups(app_list)}
    assert [model["object_name"] for model in groups["more"]] == ["Thing"]
    assert [model["object_name"] for model in groups["stations"]] == ["ChargingStation"]
    assert set(groups) == {"more", "stations"}  # empty groups are left out


def test_every_place_names_a_known_group():
    keys = {key for key, _name in GROUPS}
    assert set(PLACES.values()) <= keys


def test_the_group_names_are_in_italian_too(admin_client):
    page = admin_client.get("/admin/", headers={"Accept-Language": "it"}).content.decode()
    assert "<summary>Altro</summary>" in page
    assert '<span class="section">Sessioni</span>' in page


def test_an_operator_sees_only_the_models_they_may_see(staff_client):
    page = staff_client().get("/admin/").content.decode()
    assert "/admin/chargers/chargingstation/" not in page
