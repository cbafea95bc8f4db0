"""The Odoo admin: write-only API key, connection test, dry run then sync, product lookup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.energy.models import Tariff
from apps.integrations.odoo.models import OdooInstance, TariffProduct
from tests.integrations.odoo.fake_odoo import DB, SERVICE_KEY, SERVICE_LOGIN, FakeOdoo

User = get_user_model()
CHANGELIST = "admin:odoo_odooinstance_changelist"
MANAGE = ("odoo.view_odooinstance", "odoo.change_odooinstance", "odoo.add_odooinstance")


def test_the_api_key_is_write_only_and_encrypted(staff_client, odoo: FakeOdoo) -> None:
    client = staff_client(*MANAGE)
    response = client.post(
        reverse("admin:odoo_odooinstance_add"),
        {
            "name": "ERP",
            "enabled": "on",
            "url": odoo.base,
            "database": DB,
            "username": SERVICE_LOGIN,
            "api_key": SERVICE_KEY,
            "group_mappings-TOTAL_FORMS": "0",
            "group_mappings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content
    instance = OdooInstance.objects.get()
    assert instance.api_key() == SERVICE_KEY
    assert SERVICE_KEY not in instance.api_key_encrypted
    page = client.get(reverse("admin:odoo_odooinstance_change", args=[instance.pk]))
    assert SERVICE_KEY not in page.content.decode()
    assert "Saved; leave empty to keep it." in page.content.decode()
    listing = client.get(reverse(CHANGELIST))
    assert SERVICE_KEY not in listing.content.decode()


def test_test_connection_reports_success_and_bad_credentials(staff_client, instance) -> None:
    client = staff_client(*MANAGE)
    url = reverse(CHANGELIST)
    data = {"action": "test_connection", "_selected_action": [instance.pk]}
    page = client.post(url, data, follow=True).content.decode()
    assert "ERP: connected to Odoo 17.0 as user id 2." in page
    instance.set_api_key("wrong")
    instance.save()
    page = client.post(url, data, follow=True).content.decode()
    assert "Odoo refused the credentials of api@example.com on database constellation." in page


@pytest.fixture
def staff(odoo: FakeOdoo) -> None:
    odoo.add_user("anna", "Anna Bianchi", groups=[1, 2])
    odoo.add_user("bruno", "Bruno Verdi", groups=[1, 2])


def test_a_dry_run_shows_the_plan_and_apply_syncs(staff_client, instance, operators, staff) -> None:
    client = staff_client("odoo.view_odooinstance", "odoo.sync_odoo_users")
    url = reverse(CHANGELIST)
    page = client.post(url, {"action": "sync_users_dry_run", "_selected_action": [instance.pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="odoo-create"') == 2 and "anna" in html and "bruno" in html
    assert 'name="action" value="sync_users_apply"' in html
    assert not User.objects.filter(username__in=["anna", "bruno"]).exists()
    done = client.post(
        url, {"action": "sync_users_apply", "_selected_action": [instance.pk]}, follow=True
    )
    assert "ERP: 2 to create, 0 to update, 0 to deactivate, 0 skipped" in done.content.decode()
    assert User.objects.filter(username__in=["anna", "bruno"], is_staff=True).count() == 2


def test_a_failed_sync_says_nothing_changed(staff_client, instance, operators, staff, odoo) -> None:
    client = staff_client("odoo.view_odooinstance", "odoo.sync_odoo_users")
    odoo.fail_after = 3
    page = client.post(
        reverse(CHANGELIST),
        {"action": "sync_users_apply", "_selected_action": [instance.pk]},
        follow=True,
    ).content.decode()
    assert "ERP: nothing changed: Odoo at" in page
    assert not User.objects.filter(username="anna").exists()


def test_syncing_needs_its_permission(staff_client, instance, operators, staff) -> None:
    client = staff_client("odoo.view_odooinstance", "odoo.change_odooinstance")
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "sync_users_apply" not in page and "test_connection" in page
    response = client.post(
        reverse(CHANGELIST), {"action": "sync_users_apply", "_selected_action": [instance.pk]}
    )
    assert response.status_code in (200, 302)
    assert not User.objects.filter(username="anna").exists()


def test_the_product_lookup(staff_client, instance, odoo) -> None:
    url = reverse("admin:odoo_odooinstance_products", args=[instance.pk])
    assert staff_client("odoo.view_odooinstance").get(url, {"q": "EV"}).status_code == 403
    assert staff_client("odoo.view_tariffproduct").get(url, {"q": "EV"}).status_code == 403
    client = staff_client("odoo.view_odooinstance", "odoo.view_tariffproduct")
    html = client.get(url, {"q": "EV"}).content.decode()
    assert "Charging energy AC" in html and "Charging energy DC fast" in html
    assert "Parking hour" not in html and "22%" in html
    odoo.fail_next, odoo.fail_mode = 10, "503"
    html = client.get(url, {"q": "EV"}).content.decode()
    assert "is unavailable (HTTP 503)" in html


def test_linking_a_tariff_checks_the_product_in_odoo(staff_client, instance) -> None:
    Tariff.objects.create(code="std", name="Standard", valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    client = staff_client("odoo.add_tariffproduct", "odoo.view_tariffproduct")
    url = reverse("admin:odoo_tariffproduct_add")
    bad = client.post(url, {"instance": instance.pk, "tariff_code": "std", "product_id": 99})
    assert bad.status_code == 200 and "Odoo has no product with id 99." in bad.content.decode()
    good = client.post(url, {"instance": instance.pk, "tariff_code": "std", "product_id": 12})
    assert good.status_code == 302
    link = TariffProduct.objects.get()
    assert (link.product_name, link.product_code) == ("Charging energy DC fast", "EV-DC")
