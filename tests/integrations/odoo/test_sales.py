"""Odoo's product catalogue, tariffs' products, and priced sessions pushed as sale orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.energy.models import Tariff
from apps.integrations.odoo.client import OdooError
from apps.integrations.odoo.models import SaleState, SessionSale, TariffProduct
from apps.integrations.odoo.selectors import product_get, products_search
from apps.integrations.odoo.services import (
    session_sale_push,
    session_sales_push_pending,
    tariff_product_link,
)
from apps.transactions.billing import transaction_price
from apps.transactions.services import transaction_stop
from tests.charging_data import T0
from tests.integrations.odoo.fake_odoo import SERVICE_LOGIN, FakeOdoo

PARTNER = 7


def test_it_finds_saleable_products_by_name_or_reference(instance) -> None:
    found = products_search(instance=instance, query="charging")
    assert [p.id for p in found] == [11, 12]  # the cable is not for sale
    (dc,) = products_search(instance=instance, query="ev-dc")
    assert (dc.name, dc.code, dc.price) == ("Charging energy DC fast", "EV-DC", Decimal("0.69"))
    assert [(t.name, t.amount) for t in dc.taxes] == [("22%", Decimal("22"))]
    (parking,) = products_search(instance=instance, query="parking")
    assert parking.code == "" and parking.taxes_text == "10%"


def test_a_product_is_read_by_its_id(instance) -> None:
    assert product_get(instance=instance, product_id=12).name == "Charging energy DC fast"
    assert product_get(instance=instance, product_id=999) is None


def test_a_tariff_is_linked_to_a_product_odoo_has(instance) -> None:
    link = tariff_product_link(instance=instance, tariff_code="std", product_id=11)
    assert (link.product_name, link.product_code) == ("Charging energy AC", "EV-AC")
    with pytest.raises(OdooError, match="no product with id 99"):
        tariff_product_link(instance=instance, tariff_code="fast", product_id=99)
    assert TariffProduct.objects.count() == 1


# -- pushing sales ---------------------------------------------------------------------------
@pytest.fixture
def tariff(db) -> Tariff:
    return Tariff.objects.create(
        code="std",
        name="Standard",
        energy_price=Decimal("0.40"),
        time_price=Decimal("0.10"),
        vat_percent=Decimal("22"),
        valid_from=T0 - timedelta(days=1),
    )


@pytest.fixture
def seller(instance, tariff):
    instance.push_sales, instance.sale_partner_id = True, PARTNER
    instance.save()
    TariffProduct.objects.create(
        instance=instance, tariff_code="std", product_id=11, product_name="Charging energy AC"
    )
    return instance


def stop(station, charging) -> None:
    # 500 Wh at 0.40 + 60 min at 0.10 = 6.20 net; VAT 22 % = 1.36; 7.56 in all.
    transaction_stop(
        station_id=station.pk,
        transaction_id=charging.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0 + timedelta(hours=1),
    )


def orders(odoo: FakeOdoo) -> list[dict]:
    return list(odoo.records["sale.order"].values())


def test_a_priced_session_is_pushed_once_committed(
    seller, station, charging, odoo, celery_eager, django_capture_on_commit_callbacks
) -> None:
    stop(station, charging)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        transaction_price(transaction_pk=charging.pk)
    assert len(callbacks) == 1
    sale = SessionSale.objects.get(transaction=charging)
    assert sale.state == SaleState.PUSHED and sale.attempts == 1
    (order,) = orders(odoo)
    assert sale.order_id == order["id"] and sale.product_id == 11
    assert order["partner_id"] == PARTNER
    assert order["client_order_ref"] == f"constellation-tx-{charging.pk}"
    (line,) = odoo.records["sale.order.line"].values()
    assert (line["product_id"], line["product_uom_qty"], line["price_unit"]) == (11, 0.5, 12.4)
    assert "6.20 EUR + VAT 1.36 = 7.56" in line["name"]


def test_a_session_is_pushed_only_once(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    first = session_sale_push(transaction_pk=charging.pk)
    again = session_sale_push(transaction_pk=charging.pk)
    assert first.pk == again.pk and again.order_id == first.order_id
    assert len(orders(odoo)) == 1
    assert len(odoo.object_calls("create")) == 1


def test_an_order_whose_answer_was_lost_is_adopted(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    # The search is answered; the create is done by Odoo but its answer is lost.
    odoo.fail_after, odoo.fail_mode = 2, "lose"  # authenticate, search_read
    sale = session_sale_push(transaction_pk=charging.pk)
    assert sale.state == SaleState.PENDING and sale.order_id is None
    assert "cannot be reached" in sale.error
    assert len(orders(odoo)) == 1  # a create is never resent blindly
    odoo.fail_after = None
    assert session_sales_push_pending() == 1
    sale.refresh_from_db()
    assert sale.state == SaleState.PUSHED and sale.attempts == 2
    assert sale.order_id == orders(odoo)[0]["id"]
    assert len(orders(odoo)) == 1  # found by its reference, not created again


def test_an_unreachable_odoo_leaves_the_sale_pending(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    odoo.fail_next, odoo.fail_mode = 10, "503"
    sale = session_sale_push(transaction_pk=charging.pk)
    assert sale.state == SaleState.PENDING and orders(odoo) == []
    odoo.fail_next = 0
    assert session_sales_push_pending() == 1
    assert len(orders(odoo)) == 1


def test_an_access_error_fails_the_sale_for_good(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    odoo.denied.add((SERVICE_LOGIN, "sale.order"))
    sale = session_sale_push(transaction_pk=charging.pk)
    assert sale.state == SaleState.FAILED and "denied access" in sale.error
    assert session_sales_push_pending() == 0


def test_a_tariff_without_product_uses_the_default_or_fails(seller, station, charging, odoo):
    TariffProduct.objects.all().delete()
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    sale = session_sale_push(transaction_pk=charging.pk)
    assert sale.state == SaleState.FAILED
    assert sale.error == "No Odoo product for tariff std and no default product."
    assert odoo.object_calls() == []
    seller.default_product_id = 12
    seller.save()
    sale.state = SaleState.PENDING
    sale.save()
    assert session_sale_push(transaction_pk=charging.pk).state == SaleState.PUSHED
    (line,) = odoo.records["sale.order.line"].values()
    assert line["product_id"] == 12


def test_nothing_is_pushed_unless_configured(
    instance, tariff, station, charging, odoo, settings, django_capture_on_commit_callbacks
) -> None:
    stop(station, charging)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        transaction_price(transaction_pk=charging.pk)
    assert callbacks == []  # push_sales off
    assert session_sale_push(transaction_pk=charging.pk) is None
    instance.push_sales = True
    instance.save()
    settings.ODOO_ENABLED = False
    assert session_sale_push(transaction_pk=charging.pk) is None
    assert not SessionSale.objects.exists() and odoo.calls == []


def test_an_unpriced_session_is_not_pushed(seller, station, charging, odoo) -> None:
    assert session_sale_push(transaction_pk=charging.pk) is None
    assert not SessionSale.objects.exists()


def test_a_sale_being_pushed_is_not_pushed_twice(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    now = timezone.now()
    sale = SessionSale.objects.get(instance=seller, transaction=charging)  # made by pricing
    SessionSale.objects.filter(pk=sale.pk).update(state=SaleState.PUSHING, claimed_at=now)
    assert session_sale_push(transaction_pk=charging.pk).state == SaleState.PUSHING
    assert session_sales_push_pending() == 0
    assert orders(odoo) == []
    # A claim whose worker died is taken over by the retry job.
    SessionSale.objects.filter(pk=sale.pk).update(claimed_at=now - timedelta(minutes=11))
    assert session_sales_push_pending() == 1
    assert len(orders(odoo)) == 1


def test_an_operator_pushes_a_failed_sale_again(
    seller, station, charging, odoo, staff_client
) -> None:
    TariffProduct.objects.all().delete()
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)
    sale = session_sale_push(transaction_pk=charging.pk)
    assert sale.state == SaleState.FAILED
    seller.default_product_id = 11
    seller.save()
    url = reverse("admin:odoo_sessionsale_changelist")
    data = {"action": "push_again", "_selected_action": [sale.pk]}
    viewer = staff_client("odoo.view_sessionsale")
    viewer.post(url, data)
    sale.refresh_from_db()
    assert sale.state == SaleState.FAILED  # the action needs the change permission
    page = staff_client("odoo.view_sessionsale", "odoo.change_sessionsale").post(
        url, data, follow=True
    )
    sale.refresh_from_db()
    assert sale.state == SaleState.PUSHED
    assert f"sale order {sale.order_id}." in page.content.decode()


def test_a_push_never_queued_is_found_by_the_retry_job(seller, station, charging, odoo) -> None:
    stop(station, charging)
    transaction_price(transaction_pk=charging.pk)  # its on-commit queueing never runs here
    sale = SessionSale.objects.get(transaction=charging)
    assert sale.state == SaleState.PENDING and orders(odoo) == []
    assert session_sales_push_pending() == 1
    sale.refresh_from_db()
    assert sale.state == SaleState.PUSHED and len(orders(odoo)) == 1
