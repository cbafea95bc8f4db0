"""Import: bundle checks, the dry-run diff, conflicts by natural key, all or nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from apps.chargers.models import ChargingStation, Site
from apps.dashboard.models import Favorite
from apps.energy.models import EnergyAccount, Tariff
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag
from apps.userdata.bundle import BundleError, bundle_decode
from apps.userdata.selectors import bundle_export
from apps.userdata.services import CONFLICT, CREATE, ERROR, UNCHANGED, UPDATE, userdata_import
from tests.personas import grant
from tests.userdata.data import build_graph, counts, field_values, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def root():
    return get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)


def wipe() -> None:
    """Empty the carried tables, as on a fresh node (users stay)."""
    Reservation.objects.all().delete()
    Tariff.objects.all().delete()
    IdTag.objects.all().delete()
    EnergyAccount.objects.all().delete()
    ChargingStation.objects.all().delete()
    Site.objects.all().delete()
    Favorite.objects.all().delete()


def actions(result) -> dict[tuple[str, str], str]:
    return {(item.model, item.label): item.action for item in result.items}


def test_an_exported_bundle_imported_into_an_empty_node_reproduces_the_objects(root):
    build_graph()
    before = snapshot()
    bundle = bundle_export(user=root)
    wipe()

    result = userdata_import(user=root, data=bundle)

    assert result.applied and not result.blocked
    assert result.counts == {CREATE: 12}
    assert snapshot() == before
    assert ChargingStation.objects.get(charger_id="CP-1").password_hash == ""


def test_a_dry_run_lists_creates_and_writes_nothing(root):
    build_graph()
    bundle = bundle_export(user=root)
    wipe()

    result = userdata_import(user=root, data=bundle, dry_run=True)

    assert not result.applied
    assert set(actions(result).values()) == {CREATE}
    assert ("rfid.idtag", "CARD-1") in actions(result)
    assert all(n == 0 for label, n in counts().items() if label != "chargers.Connector")


def test_importing_the_same_bundle_again_changes_nothing(root):
    build_graph()
    bundle = bundle_export(user=root)

    result = userdata_import(user=root, data=bundle)

    assert result.applied and result.counts == {UNCHANGED: 12}


def test_a_conflicting_import_changes_nothing_and_reports_the_conflict(root):
    build_graph()
    bundle = bundle_export(user=root)
    changed = copy.deepcopy(bundle)
    changed["objects"]["chargers.chargingstation"][0]["name"] = "Renamed"
    changed["objects"]["energy.tariff"][1]["energy_price"] = "0.99"
    changed["objects"]["chargers.site"].append({"name": "New", "address": "", "time_zone": "UTC"})
    tables = {m: field_values(m) for m in (Site, ChargingStation, EnergyAccount, IdTag, Tariff)}
    before = counts()

    result = userdata_import(user=root, data=changed)

    assert not result.applied and result.blocked
    found = actions(result)
    assert found[("chargers.chargingstation", "CP-1")] == CONFLICT
    assert found[("energy.tariff", "std / 2")] == CONFLICT
    assert found[("chargers.site", "New")] == CREATE
    conflict = next(item for item in result.items if item.label == "std / 2")
    assert conflict.changes == {"energy_price": ("0.3500", "0.9900")}
    assert counts() == before
    assert {m: field_values(m) for m in tables} == tables


def test_overwrite_turns_conflicts_into_updates(root):
    build_graph()
    changed = bundle_export(user=root)
    changed["objects"]["chargers.chargingstation"][0]["name"] = "Renamed"
    changed["objects"]["rfid.idtag"][0]["parent"] = None

    result = userdata_import(user=root, data=changed, overwrite=True)

    assert result.applied
    assert actions(result)[("chargers.chargingstation", "CP-1")] == UPDATE
    assert ChargingStation.objects.get(charger_id="CP-1").name == "Renamed"
    assert IdTag.objects.get(id_tag="CARD-1").parent is None
    assert Site.objects.get().name == "Depot"


def test_a_reference_to_an_unknown_object_is_an_error_and_nothing_is_written(root):
    bundle = {
        "format": "constellation-userdata",
        "version": 1,
        "objects": {
            "chargers.site": [{"name": "Kept out", "address": "", "time_zone": "UTC"}],
            "energy.tariff": [_tariff_row(station="NOPE")],
        },
    }

    result = userdata_import(user=root, data=bundle)

    assert not result.applied
    assert actions(result)[("energy.tariff", "x / 1")] == ERROR
    assert not Site.objects.exists() and not Tariff.objects.exists()


def test_an_owners_bundle_is_imported_by_an_operator_not_by_the_owner():
    """An owner may not write their own account or cards (credit limit, a blocked card)."""
    graph = build_graph()
    owner = graph["owner"]
    bundle = bundle_export(user=owner)
    Reservation.objects.all().delete()
    IdTag.objects.filter(account=graph["account"]).delete()
    graph["account"].delete()

    refused = userdata_import(user=owner, data=bundle)

    assert not refused.applied
    assert actions(refused)[("energy.energyaccount", "Alice home / alice")] == ERROR
    assert not EnergyAccount.objects.filter(name="Alice home").exists()

    clerk = get_user_model().objects.create_user("clerk", password="x" * 20)
    grant(clerk, "energy.add_energyaccount", "rfid.add_idtag", "reservations.add_reservation")
    done = userdata_import(user=clerk, data=bundle)

    assert done.applied, [(i.label, i.action, i.message) for i in done.items]
    assert EnergyAccount.objects.get(name="Alice home").owner == owner
    assert IdTag.objects.get(id_tag="CARD-1").parent.id_tag == "PARENT-1"
    assert Reservation.objects.get().connector.connector_id == 1


def test_an_owner_cannot_unblock_their_card_by_import():
    graph = build_graph()
    blocked = bundle_export(user=graph["owner"])
    IdTag.objects.filter(id_tag="CARD-1").update(status="Blocked")

    result = userdata_import(user=graph["owner"], data=blocked, overwrite=True)

    assert not result.applied
    assert actions(result)[("rfid.idtag", "CARD-1")] == ERROR
    assert IdTag.objects.get(id_tag="CARD-1").status == "Blocked"


def test_a_user_without_permission_cannot_create_stations():
    clerk = get_user_model().objects.create_user("clerk", password="x" * 20)
    grant(clerk, "chargers.add_site")
    bundle = {
        "format": "constellation-userdata",
        "version": 1,
        "objects": {"chargers.site": [{"name": "Allowed", "address": "", "time_zone": "UTC"}]},
    }
    assert userdata_import(user=clerk, data=bundle).applied
    bundle["objects"] = {"chargers.chargingstation": [_station_row("CP-9")]}

    result = userdata_import(user=clerk, data=bundle)

    assert not result.applied and not ChargingStation.objects.exists()


def _station_row(charger_id: str, **values) -> dict:
    row = {
        "charger_id": charger_id,
        "name": "",
        "registration_status": "Pending",
        "preferred_ocpp_version": "",
        "free_charging": False,
        "heartbeat_interval": None,
        "security_profile": 0,
        "vendor": "",
        "model": "",
        "serial_number": "",
        "charge_box_serial_number": "",
        "firmware_version": "",
        "iccid": "",
        "imsi": "",
        "meter_type": "",
        "meter_serial_number": "",
        "site": None,
    }
    row.update(values)
    return row


def _tariff_row(**values) -> dict:
    row = {
        "code": "x",
        "version": 1,
        "name": "X",
        "group": "",
        "currency": "EUR",
        "energy_price": "1",
        "time_price": "0",
        "idle_price": "0",
        "idle_grace_minutes": 0,
        "session_fee": "0",
        "vat_percent": "0",
        "bands": [],
        "valid_from": "2026-01-01T00:00:00Z",
        "station": None,
    }
    row.update(values)
    return row


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a user data bundle"),
        ({"format": "other", "version": 1, "objects": {}}, "format"),
        ({"format": "constellation-userdata", "version": 2, "objects": {}}, "version 2"),
        ({"format": "constellation-userdata", "version": 1}, "objects"),
        (
            {"format": "constellation-userdata", "version": 1, "objects": {"auth.user": []}},
            "auth.user",
        ),
        (
            {
                "format": "constellation-userdata",
                "version": 1,
                "objects": {"chargers.chargingstation": [{"charger_id": "A"}]},
            },
            "missing",
        ),
        (
            {
                "format": "constellation-userdata",
                "version": 1,
                "objects": {"chargers.chargingstation": [_station_row("A", password_hash="x")]},
            },
            "unknown ['password_hash']",
        ),
        (
            {
                "format": "constellation-userdata",
                "version": 1,
                "objects": {"chargers.chargingstation": [_station_row("A", security_profile=9)]},
            },
            "security_profile",
        ),
        (
            {
                "format": "constellation-userdata",
                "version": 1,
                "objects": {"chargers.chargingstation": [_station_row("A"), _station_row("A")]},
            },
            "the same object twice",
        ),
        (
            {
                "format": "constellation-userdata",
                "version": 1,
                "objects": {
                    "chargers.chargingstation": [_station_row("A", heartbeat_interval=[1])]
                },
            },
            "single value",
        ),
    ],
)
def test_it_rejects_a_bad_bundle_with_a_clear_message(root, data, message):
    with pytest.raises(BundleError) as caught:
        userdata_import(user=root, data=data)

    assert message in str(caught.value)
    assert not ChargingStation.objects.exists()


def test_it_rejects_a_file_that_is_not_json_or_too_large(settings):
    with pytest.raises(BundleError, match="not JSON"):
        bundle_decode(b"{nope")
    settings.USERDATA_MAX_BUNDLE_BYTES = 10
    with pytest.raises(BundleError, match="larger than 10 bytes"):
        bundle_decode(b'{"format": "constellation-userdata"}')


@contextmanager
def id_tag_inserts_refused() -> Iterator[None]:
    """Make the database itself refuse new id tags (a trigger), as a failing write would."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute(
                "CREATE TEMP TRIGGER refuse_tags BEFORE INSERT ON rfid_idtag "
                "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION refuse_tags() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused by test trigger' USING ERRCODE = '23000'; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_tags BEFORE INSERT ON rfid_idtag "
                "FOR EACH ROW EXECUTE FUNCTION refuse_tags()"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if vendor == "sqlite":
                cursor.execute("DROP TRIGGER refuse_tags")
            else:
                cursor.execute("DROP TRIGGER refuse_tags ON rfid_idtag")
                cursor.execute("DROP FUNCTION refuse_tags()")


def test_a_failure_while_writing_rolls_back_everything(root):
    """A database error half-way (after sites, stations, accounts) leaves nothing behind."""
    build_graph()
    bundle = bundle_export(user=root)
    wipe()

    with id_tag_inserts_refused(), pytest.raises(BundleError, match="nothing was written"):
        userdata_import(user=root, data=bundle)

    assert all(n == 0 for label, n in counts().items() if label != "chargers.Connector")
