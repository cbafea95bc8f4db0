"""Export: the bundle's shape, what each user's permissions cover, and no secrets."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.userdata.bundle import FORMAT, SPECS, VERSION
from apps.userdata.selectors import bundle_export
from tests.personas import grant
from tests.userdata.data import build_graph

pytestmark = pytest.mark.django_db


def keys(bundle: dict, model: str, field: str) -> list:
    return [row[field] for row in bundle["objects"][model]]


def test_it_exports_every_object_for_a_superuser_with_natural_keys():
    build_graph()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)

    bundle = bundle_export(user=root)

    assert bundle["format"] == FORMAT and bundle["version"] == VERSION
    assert bundle["exported_at"].endswith("Z") and bundle["node"]
    assert list(bundle["objects"]) == [spec.key for spec in SPECS]
    assert keys(bundle, "chargers.chargingstation", "charger_id") == ["CP-1", "CP-2"]
    assert keys(bundle, "chargers.chargingstation", "site") == ["Depot", None]
    assert keys(bundle, "rfid.idtag", "parent") == ["PARENT-1", None, None]
    assert keys(bundle, "rfid.idtag", "account") == [
        ["Alice home", "alice"],
        ["Fleet", None],
        ["Alice home", "alice"],
    ]
    tariff = bundle["objects"]["energy.tariff"][1]
    assert (tariff["code"], tariff["version"], tariff["station"]) == ("std", 2, "CP-1")
    assert (
        tariff["energy_price"] == "0.3500" and tariff["valid_from"] == "2026-03-01T12:30:15.123000Z"
    )
    assert bundle["objects"]["reservations.reservation"][0]["connector"] == 1


def test_it_never_exports_secrets_or_balances():
    graph = build_graph()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)

    text = json.dumps(bundle_export(user=root))

    assert graph["station"].password_hash and graph["station"].password_hash not in text
    assert graph["station"].pending_password_hash not in text
    for secret_field in ("password", "balance", 'token"', "secret"):
        assert secret_field not in text


def test_an_account_owner_exports_their_accounts_cards_and_reservations_only():
    graph = build_graph()

    bundle = bundle_export(user=graph["owner"])

    assert keys(bundle, "energy.energyaccount", "name") == ["Alice home"]
    assert keys(bundle, "rfid.idtag", "id_tag") == ["CARD-1", "PARENT-1"]
    assert keys(bundle, "reservations.reservation", "reservation_id") == [4242]
    assert bundle["objects"]["chargers.chargingstation"] == []
    assert bundle["objects"]["energy.tariff"] == []


def test_a_view_permission_exports_that_models_rows():
    build_graph()
    clerk = get_user_model().objects.create_user("clerk", password="x" * 20)
    grant(clerk, "energy.view_tariff", "chargers.view_site")

    bundle = bundle_export(user=clerk)

    assert [(r["code"], r["version"]) for r in bundle["objects"]["energy.tariff"]] == [
        ("std", 1),
        ("std", 2),
    ]
    assert keys(bundle, "chargers.site", "name") == ["Depot"]
    assert bundle["objects"]["rfid.idtag"] == []
    assert bundle["objects"]["energy.energyaccount"] == []


def test_an_inactive_user_exports_nothing():
    build_graph()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    root.is_active = False
    root.save()

    bundle = bundle_export(user=root)

    assert all(rows == [] for rows in bundle["objects"].values())
