"""A session's cost on its admin page (final and so far), in the API and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry, Tariff
from apps.transactions.billing import (
    transaction_event_cost,
    transaction_price,
    transactions_price_pending,
)
from apps.transactions.services import transaction_stop
from tests.charging_data import T0

pytestmark = pytest.mark.django_db

# The `charging` session: 1000 Wh at T0, readings 1100/1220/1350 Wh at +1/+2/+3 minutes.


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


def stop_and_price(station, charging) -> None:
    # 500 Wh at 0.40 + 60 min at 0.10 = 6.20 net; VAT 22 % = 7.564 → 7.56.
    transaction_stop(
        station_id=station.pk,
        transaction_id=charging.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0 + timedelta(hours=1),
    )
    transaction_price(transaction_pk=charging.pk)


def test_a_priced_session_shows_its_cost_in_the_api(client_with, station, charging, tariff):
    stop_and_price(station, charging)
    body = client_with("transactions.view_transaction").get(f"/api/transactions/{charging.pk}/")
    assert body.status_code == 200
    assert (body.json()["cost"], body.json()["currency"], body.json()["tariff"]) == (
        "7.56",
        "EUR",
        "Standard v1",
    )


def test_an_unpriced_session_has_no_cost_in_the_api(client_with, station, charging):
    body = client_with("transactions.view_transaction").get(f"/api/transactions/{charging.pk}/")
    assert body.json()["cost"] is None and body.json()["currency"] is None


def test_the_csv_export_has_the_cost(client, operator, station, charging, tariff):
    stop_and_price(station, charging)
    client.force_login(operator)
    response = client.post(
        reverse("admin:transactions_transaction_changelist"),
        {"action": "export_csv", "_selected_action": [charging.pk]},
    )
    (row,) = csv.DictReader(io.StringIO(response.content.decode()))
    assert (row["cost"], row["currency"], row["tariff"]) == ("7.56", "EUR", "Standard v1")


def test_the_transaction_page_shows_the_cost_and_its_parts(
    client, operator, station, charging, tariff
):
    stop_and_price(station, charging)
    client.force_login(operator)
    page = client.get(reverse("admin:transactions_transaction_change", args=[charging.pk]))
    text = page.content.decode()
    assert "7.56 EUR" in text
    assert "energy: 0.20 EUR" in text and "time: 6.00 EUR" in text and "VAT: 1.36 EUR" in text


def test_a_running_session_shows_its_cost_so_far_in_italian(client, operator, charging, tariff):
    client.force_login(operator)
    with translation.override("it"):
        page = client.get(
            reverse("admin:transactions_transaction_change", args=[charging.pk]),
            HTTP_ACCEPT_LANGUAGE="it",
        )
    text = page.content.decode()
    # 350 Wh so far at 0.40 = 0.14 plus time up to now: more than 0.14, said "finora".
    assert "finora" in text
    assert "Costo" in text


def with_account(tx):
    tx.account = EnergyAccount.objects.create(name="Fleet")
    tx.save(update_fields=["account"])
    return tx


def test_the_dashboard_shows_the_cost_so_far_of_a_session_with_an_account(
    client, operator, charging, tariff
):
    client.force_login(operator)
    before = client.get(reverse("dashboard:index")).content.decode()
    with_account(charging)
    after = client.get(reverse("dashboard:index")).content.decode()
    cell = 'data-field="cost">'
    # Without an account nothing is priced on the page; with one, the cost so far.
    assert f"{cell}-<" in before
    shown = after.split(f'data-transaction="{charging.pk}"')[1].split(cell)[1].split("<")[0]
    assert shown.endswith(" EUR") and Decimal(shown.split()[0]) > Decimal("0.17")


def test_a_201_start_gets_the_prices_and_the_end_the_total(station, charging, tariff):
    assert transaction_event_cost(transaction=charging, event_type="Started") == {}
    with_account(charging)
    started = transaction_event_cost(transaction=charging, event_type="Started")
    assert started["updatedPersonalMessage"]["content"] == (
        "0.40 EUR/kWh + 0.10 EUR/min, plus VAT 22%"
    )
    assert transaction_event_cost(transaction=charging, event_type="Updated") == {}
    stop_and_price(station, charging)
    charging.refresh_from_db()
    assert transaction_event_cost(transaction=charging, event_type="Ended")["totalCost"] == 7.56


def test_the_retry_job_prices_a_stop_whose_pricing_was_lost(station, charging, tariff):
    # The stop is stored; its pricing never ran (this test's commit never happens, as if the
    # process died after acknowledging the stop).
    with_account(charging)
    transaction_stop(
        station_id=station.pk,
        transaction_id=charging.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0 + timedelta(hours=1),
    )
    charging.refresh_from_db()
    assert charging.stopped_at is not None and charging.cost is None
    now = T0 + timedelta(hours=2)
    assert transactions_price_pending(now=now) == 1
    assert transactions_price_pending(now=now) == 0  # priced: not again
    charging.refresh_from_db()
    assert charging.cost == Decimal("7.56")
    charges = LedgerEntry.objects.filter(account=charging.account, kind=EntryKind.CHARGE)
    assert list(charges.values_list("amount", flat=True)) == [Decimal("-7.56")]


def test_a_malformed_tariff_leaves_the_session_unpriced_and_is_logged(station, charging, caplog):
    Tariff.objects.create(code="bad", name="Bad", bands="22:00", valid_from=T0 - timedelta(days=1))
    transaction_stop(
        station_id=station.pk,
        transaction_id=charging.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0 + timedelta(hours=1),
    )
    assert transactions_price_pending(now=T0 + timedelta(hours=2)) == 0
    charging.refresh_from_db()
    assert charging.cost is None
    assert "cannot be priced" in caplog.text
