"""Sites and operators: the selectors and every admin page (apps/chargers/tenancy.py)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.chargers.models import ChargingStation, Site, SiteMembership
from apps.chargers.scoped import SiteScopedAdminMixin
from apps.chargers.tenancy import (
    filter_by_station,
    sees_all_sites,
    sites_of,
    station_ids_visible_to,
    station_path_of,
    stations_visible_to,
)
from apps.ocpp.models import MessageLog
from tests.chargers.conftest import PASSWORD, site_operator

pytestmark = pytest.mark.django_db

# The records of the world (tests/chargers/conftest.py), each with an admin list.
LABELS = [
    "chargers.chargingstation",
    "transactions.transaction",
    "transactions.metervalue",
    "rfid.idtag",
    "reservations.reservation",
    "commands.chargercommand",
    "ocpp.messagelog",
    "chargers.statusevent",
    "security.securityevent",
]

# Registered models that have a station but are deliberately not narrowed by site: none.
NOT_SCOPED: dict[str, str] = {}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changelist_pks(client: Client, label: str) -> set[int]:
    app_label, model_name = label.split(".")
    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200, label
    return {row.pk for row in response.context["cl"].result_list}


# --- The rule --------------------------------------------------------------------------------


def test_an_operator_sees_only_the_stations_of_their_sites(world):
    assert list(stations_visible_to(world.operator_a)) == [world.a.station]
    assert station_ids_visible_to(world.operator_a) == {world.a.station.pk}
    assert list(sites_of(world.operator_a)) == [world.site_a]
    assert not sees_all_sites(world.operator_a)


def test_a_superuser_sees_every_station_those_without_a_site_included(world):
    assert set(stations_visible_to(world.superuser)) == {
        world.a.station,
        world.b.station,
        world.unassigned.station,
    }
    assert set(sites_of(world.superuser)) == {world.site_a, world.site_b}


def test_the_all_sites_permission_shows_every_station(world):
    user = get_user_model().objects.create_user("regional", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="all_sites"))
    user = get_user_model().objects.get(pk=user.pk)
    assert sees_all_sites(user)
    assert station_ids_visible_to(user) == {
        world.a.station.pk,
        world.b.station.pk,
        world.unassigned.station.pk,
    }


def test_a_member_of_two_sites_sees_both_and_never_an_unassigned_station(world):
    user = site_operator("two-sites", world.site_a, world.site_b)
    assert station_ids_visible_to(user) == {world.a.station.pk, world.b.station.pk}


@pytest.mark.parametrize("who", ["no membership", "inactive member", "anonymous"])
def test_nobody_else_sees_any_station(world, who):
    if who == "anonymous":
        user = AnonymousUser()
    elif who == "no membership":
        user = site_operator("nobody")
    else:
        user = site_operator("gone", world.site_a)
        user.is_active = False
        user.save(update_fields=["is_active"])
    assert not stations_visible_to(user).exists()
    assert not sites_of(user).exists()


def test_a_new_membership_shows_the_site_at_once(world):
    user = site_operator("newcomer")
    assert not stations_visible_to(user).exists()
    SiteMembership.objects.create(user=user, site=world.site_b)
    assert list(stations_visible_to(user)) == [world.b.station]


def test_records_that_name_their_station_by_charger_id_follow_it(world):
    visible = filter_by_station(
        MessageLog.objects.all(), world.operator_a, path="charger_id", by="charger_id"
    )
    assert set(visible.values_list("charger_id", flat=True)) == {"CP-A"}


def test_it_finds_the_station_path_of_a_model():
    from apps.integrations.odoo.models import SessionSale
    from apps.transactions.models import Transaction

    assert station_path_of(ChargingStation) == ("", "pk")
    assert station_path_of(Transaction) == ("station", "pk")
    assert station_path_of(MessageLog) == ("charger_id", "charger_id")
    assert station_path_of(SessionSale) == ("transaction__station", "pk")
    assert station_path_of(Site) is None


# --- The admin -------------------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_an_operator_lists_only_their_sites_rows_in_the_admin(world, label):
    a, b, unassigned = world.rows_of(label)
    assert changelist_pks(login(world.operator_a), label) == {a.pk}
    assert changelist_pks(login(world.superuser), label) >= {a.pk, b.pk, unassigned.pk}


@pytest.mark.parametrize("label", LABELS)
def test_another_sites_change_page_is_not_found(world, label):
    app_label, model_name = label.split(".")
    a, b, _ = world.rows_of(label)
    client = login(world.operator_a)
    own = client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[a.pk]))
    assert own.status_code == 200
    other = client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[b.pk]))
    # Django's admin answers a row outside get_queryset with "doesn't exist" and the index.
    assert other.status_code in (302, 404)
    if other.status_code == 302:
        assert other["Location"] == reverse("admin:index")
    assert str(b) not in other.content.decode()


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_admin_of_a_model_with_a_station_is_narrowed_by_site(world):
    # A new model with a station and an admin page cannot be missed: it must be scoped.
    request = _request_as(world.operator_a)
    checked = []
    for model, model_admin in admin.site._registry.items():
        found = station_path_of(model)
        if found is None or model._meta.label_lower in NOT_SCOPED:
            continue
        assert isinstance(model_admin, SiteScopedAdminMixin), model._meta.label
        path, by = found
        queryset = model_admin.get_queryset(request)
        assert "sitemembership" in str(queryset.query).lower(), model._meta.label
        # No row of site B or without a site is ever in the operator's list.
        others = [world.b.station, world.unassigned.station]
        if by == "charger_id":
            leaked = queryset.filter(**{f"{path}__in": [s.charger_id for s in others]})
        else:
            lookup = f"{path}__pk__in" if path else "pk__in"
            leaked = queryset.filter(**{lookup: [s.pk for s in others]})
        assert not leaked.exists(), model._meta.label
        checked.append(model._meta.label_lower)
    assert set(LABELS) - {"rfid.idtag"} <= set(checked)


def test_an_operator_lists_only_their_sites(world):
    client = login(world.operator_a)
    response = client.get(reverse("admin:chargers_site_changelist"))
    assert [site.pk for site in response.context["cl"].result_list] == [world.site_a.pk]
    other = client.get(reverse("admin:chargers_site_change", args=[world.site_b.pk]))
    assert other.status_code in (302, 404)


def test_station_pickers_offer_only_the_operators_stations(world):
    client = login(world.operator_a)
    # A plain select (tariffs), and the add form of a command-sending admin (reservations).
    tariff = client.get(reverse("admin:energy_tariff_add"))
    station_field = tariff.context["adminform"].form.fields["station"]
    assert list(station_field.queryset) == [world.a.station]
    reservation = client.get(reverse("admin:reservations_reservation_add"))
    station_field = reservation.context["adminform"].form.fields["station"]
    assert list(station_field.queryset) == [world.a.station]


def test_a_station_of_another_site_cannot_be_picked_by_typing_its_id(world):
    client = login(world.operator_a)
    response = client.post(
        reverse("admin:energy_tariff_add"),
        {"code": "b-only", "version": 1, "name": "B", "station": world.b.station.pk},
    )
    assert response.status_code == 200
    assert "station" in response.context["adminform"].form.errors


def test_the_station_list_filter_names_only_the_operators_sites(world):
    client = login(world.operator_a)
    response = client.get(reverse("admin:chargers_chargingstation_changelist"))
    text = response.content.decode()
    assert "Depot A" in text and "Depot B" not in text


def test_the_csv_export_leaves_out_another_sites_sessions(world):
    client = login(world.operator_a)
    url = reverse("admin:transactions_transaction_changelist")
    response = client.post(
        url,
        {
            "action": "export_csv",
            "_selected_action": [
                world.a.rows["transactions.transaction"].pk,
                world.b.rows["transactions.transaction"].pk,
            ],
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "tx-CP-A" in text and "tx-CP-B" not in text


def test_another_sites_meter_values_csv_is_not_found(world):
    client = login(world.operator_a)
    other = world.b.rows["transactions.transaction"]
    response = client.get(
        reverse("admin:transactions_transaction_meter_values_csv", args=[other.pk])
    )
    assert response.status_code == 404


def test_another_sites_station_commands_are_not_found(world):
    client = login(world.operator_a)
    url = reverse("admin:chargers_chargingstation_command", args=[world.b.station.pk, "reset"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"hard": ""}).status_code == 404


def test_admin_actions_leave_out_another_sites_stations(world):
    client = login(world.operator_a)
    client.post(
        reverse("admin:chargers_chargingstation_changelist"),
        {"action": "approve", "_selected_action": [world.a.station.pk, world.b.station.pk]},
    )
    world.a.station.refresh_from_db()
    world.b.station.refresh_from_db()
    assert world.a.station.registration_status == "Accepted"
    assert world.b.station.registration_status == "Pending"


def test_the_one_click_registration_refuses_another_sites_station(world):
    client = login(world.operator_a)
    url = reverse("dashboard:station_registration", args=[world.b.station.pk])
    assert client.post(url, {"status": "Accepted"}).status_code == 404
    world.b.station.refresh_from_db()
    assert world.b.station.registration_status == "Pending"


def test_only_superusers_edit_memberships_on_the_users_page(world):
    url = reverse("admin:auth_user_change", args=[world.operator_a.pk])
    page = login(world.superuser).get(url)
    assert page.status_code == 200
    assert "site_memberships-TOTAL_FORMS" in page.content.decode()
    inline = next(
        i for i in page.context["inline_admin_formsets"] if i.opts.model is SiteMembership
    )
    assert inline.has_add_permission
    own = login(world.operator_a).get(url)
    inlines = [i for i in own.context["inline_admin_formsets"] if i.opts.model is SiteMembership]
    assert all(not i.has_add_permission and not i.has_change_permission for i in inlines)


def test_the_site_page_shows_its_stations_and_members(world):
    page = login(world.superuser).get(reverse("admin:chargers_site_change", args=[world.site_a.pk]))
    text = page.content.decode()
    assert "CP-A" in text and "operator-a" in text and "CP-B" not in text


def test_the_dashboard_page_shows_only_the_operators_stations(world):
    response = login(world.operator_a).get(reverse("dashboard:index"))
    assert response.status_code == 200
    assert [station.pk for station in response.context["stations"]] == [world.a.station.pk]
    everything = login(world.superuser).get(reverse("dashboard:index"))
    assert len(everything.context["stations"]) == 3


def test_the_command_path_refuses_a_user_another_sites_station(world):
    from apps.commands.errors import StationNotVisible
    from apps.commands.models import ChargerCommand
    from apps.commands.services import send_command

    before = ChargerCommand.objects.count()
    with pytest.raises(StationNotVisible):
        send_command(
            station=world.b.station,
            action="Reset",
            payload={"type": "Soft"},
            requested_by=world.operator_a,
        )
    assert ChargerCommand.objects.count() == before
    # The system itself (Celery, the command line: no user) and the operator's own station.
    for station, user in ((world.b.station, None), (world.a.station, world.operator_a)):
        command = send_command(
            station=station, action="Reset", payload={"type": "Soft"}, requested_by=user
        )
        assert command.status == "offline"


def test_receipts_of_another_sites_sessions_are_neither_listed_nor_downloaded(world):
    from decimal import Decimal

    from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry

    account = EnergyAccount.objects.create(name="Fleet")

    def entry(kind: str, reference: str) -> LedgerEntry:
        return LedgerEntry.objects.create(
            account=account,
            kind=kind,
            amount=Decimal("-1"),
            balance_after=Decimal("0"),
            reference=reference,
        )

    mine = entry(EntryKind.CHARGE, f"tx:{world.a.rows['transactions.transaction'].pk}")
    other = entry(EntryKind.CHARGE, f"tx:{world.b.rows['transactions.transaction'].pk}")
    topup = entry(EntryKind.TOPUP, "topup:1")
    client = login(world.operator_a)
    assert changelist_pks(client, "portal.receipt") == {mine.pk, topup.pk}
    assert changelist_pks(login(world.superuser), "portal.receipt") == {
        mine.pk,
        other.pk,
        topup.pk,
    }
    assert client.get(reverse("admin:portal_receipt_pdf", args=[other.pk])).status_code == 404
    assert client.get(reverse("admin:portal_receipt_pdf", args=[mine.pk])).status_code == 200


def test_an_operator_of_some_sites_cannot_leave_a_site_empty(world):
    client = login(world.operator_a)
    url = reverse("admin:rfid_idtag_add")
    form = {"id_tag": "NEW-ADMIN", "token_type": "ISO14443", "status": "Accepted"}
    response = client.post(url, form)
    assert response.status_code == 200
    assert "site" in response.context["adminform"].form.errors
    other = client.post(url, {**form, "site": world.site_b.pk})
    assert "site" in other.context["adminform"].form.errors
    client.post(url, {**form, "site": world.site_a.pk})
    from apps.rfid.models import IdTag

    assert IdTag.objects.get(id_tag="NEW-ADMIN").site == world.site_a
    # A superuser may keep a card without a site.
    login(world.superuser).post(url, {**form, "id_tag": "NEW-ROOT"})
    assert IdTag.objects.get(id_tag="NEW-ROOT").site is None
