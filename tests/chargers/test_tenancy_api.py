"""Sites and operators in the REST API: lists, details, commands and reservations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.commands.models import ChargerCommand
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# Every list of the API that holds a station's records, and how a row names its station.
LISTS = [
    ("/api/chargers/", "charger_id"),
    ("/api/connectors/", "charger"),
    ("/api/transactions/", "charger"),
    ("/api/commands/", "charger"),
    ("/api/reservations/", "charger"),
    ("/api/security-events/", "charger_id"),
    ("/api/certificates/", "charger_id"),
    ("/api/installed-certificates/", "charger_id"),
]


def names(response, key: str) -> set[str]:
    assert response.status_code == 200, response.content
    return {row[key] for row in response.json()["results"]}


@pytest.mark.parametrize(("url", "key"), LISTS)
def test_an_operator_lists_only_their_sites_rows(world, url, key):
    from apps.chargers.services import ConnectorStatus, connector_status_update

    for place in (world.a, world.b, world.unassigned):
        connector_status_update(
            station_id=place.station.pk,
            report=ConnectorStatus(connector_id=1, status="Available"),
        )
    seen = names(api(world.operator_a).get(url), key)
    assert "CP-B" not in seen and "CP-U" not in seen
    everything = names(api(world.superuser).get(url), key)
    if everything:  # certificates: none in this world, the narrowing is the same
        assert {"CP-A", "CP-B", "CP-U"} <= everything
        assert seen == {"CP-A"}


def test_every_api_list_with_a_station_is_narrowed(world):
    # A new viewset on a model with a station cannot be missed: it must use the site mixin.
    from apps.chargers.scoped import SiteScopedApiMixin
    from apps.chargers.tenancy import station_path_of
    from config.api import router

    for prefix, viewset, _basename in router.registry:
        model = viewset.queryset.model
        if station_path_of(model) is None and model is not IdTag:
            continue
        assert issubclass(viewset, SiteScopedApiMixin), prefix
        assert any(url.startswith(f"/api/{prefix}/") for url, _ in LISTS) or prefix == "id-tags"


def test_id_tags_are_listed_by_their_own_site(world):
    seen = names(api(world.operator_a).get("/api/id-tags/"), "id_tag")
    assert seen == {"TAG-CP-A"}
    everything = names(api(world.superuser).get("/api/id-tags/"), "id_tag")
    assert {"TAG-CP-A", "TAG-CP-B", "TAG-CP-U"} <= everything


def detail_urls(world, place):
    rows = place.rows
    return [
        f"/api/chargers/{place.station.charger_id}/",
        f"/api/chargers/{place.station.charger_id}/connectors/",
        f"/api/chargers/{place.station.charger_id}/configuration/",
        f"/api/transactions/{rows['transactions.transaction'].pk}/",
        f"/api/transactions/{rows['transactions.transaction'].pk}/meter-values/",
        f"/api/commands/{rows['commands.chargercommand'].pk}/",
        f"/api/reservations/{rows['reservations.reservation'].pk}/",
        f"/api/security-events/{rows['security.securityevent'].pk}/",
        f"/api/id-tags/{rows['rfid.idtag'].id_tag}/",
    ]


def test_another_sites_details_are_not_found(world):
    client = api(world.operator_a)
    for url in detail_urls(world, world.a):
        assert client.get(url).status_code == 200, url
    for place in (world.b, world.unassigned):
        for url in detail_urls(world, place):
            assert client.get(url).status_code == 404, url


def test_another_sites_station_cannot_be_approved(world):
    client = api(world.operator_a)
    assert client.post("/api/chargers/CP-B/approve/").status_code == 404
    world.b.station.refresh_from_db()
    assert world.b.station.registration_status == "Pending"
    assert client.post("/api/chargers/CP-A/approve/").status_code == 200


def test_a_command_to_another_sites_station_is_not_found_and_not_stored(world):
    client = api(world.operator_a)
    before = ChargerCommand.objects.count()
    body = {"charger": "CP-B", "action": "Reset", "payload": {"type": "Soft"}}
    response = client.post("/api/commands/", body, format="json")
    assert response.status_code == 404
    operation = {"charger": "CP-B", "operation": "reset", "arguments": {}}
    assert client.post("/api/commands/operations/", operation, format="json").status_code == 404
    assert ChargerCommand.objects.count() == before
    # The operator's own station: stored (offline at once: it is not connected).
    body["charger"] = "CP-A"
    response = client.post("/api/commands/", body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "offline"


def test_a_reservation_at_another_sites_station_is_not_found_and_not_stored(world):
    client = api(world.operator_a)
    before = Reservation.objects.count()
    body = {
        "charger": "CP-B",
        "connector_id": 1,
        "id_tag": "TAG-CP-A",
        "expires_at": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    assert client.post("/api/reservations/", body, format="json").status_code == 404
    assert Reservation.objects.count() == before
    cancel = f"/api/reservations/{world.b.rows['reservations.reservation'].pk}/cancel/"
    assert client.post(cancel).status_code == 404


def test_an_operator_makes_cards_of_their_own_sites_only(world):
    client = api(world.operator_a)
    no_site = client.post("/api/id-tags/", {"id_tag": "NEW-1"}, format="json")
    assert no_site.status_code == 400
    assert "site" in no_site.json()
    other = client.post("/api/id-tags/", {"id_tag": "NEW-2", "site": "Depot B"}, format="json")
    assert other.status_code == 400
    own = client.post("/api/id-tags/", {"id_tag": "NEW-3", "site": "Depot A"}, format="json")
    assert own.status_code == 201
    assert IdTag.objects.get(id_tag="NEW-3").site == world.site_a
    assert not IdTag.objects.filter(id_tag__in=["NEW-1", "NEW-2"]).exists()
    # Another site's card can neither be changed nor become a parent.
    assert client.patch("/api/id-tags/TAG-CP-B/", {"label": "x"}, format="json").status_code == 404
    parent = client.patch("/api/id-tags/NEW-3/", {"parent": "TAG-CP-B"}, format="json")
    assert parent.status_code == 400


def test_a_superuser_may_keep_a_card_without_a_site(world):
    response = api(world.superuser).post("/api/id-tags/", {"id_tag": "FREE"}, format="json")
    assert response.status_code == 201
    assert IdTag.objects.get(id_tag="FREE").site is None
