"""CSV exports: transactions (admin action) and one transaction's meter values (a link)."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from apps.transactions.exports import cell
from apps.transactions.models import Transaction
from apps.transactions.services import transaction_start, transaction_stop
from tests.charging_data import T0


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_action_exports_the_selected_transactions(client, operator, charging, station):
    transaction_stop(
        station_id=station.pk,
        transaction_id=charging.transaction_id,
        meter_stop_wh=1500,
        stopped_at=T0.replace(hour=11),
        reason="EVDisconnected",
    )
    other, _ = transaction_start(
        station_id=station.pk,
        connector_id=2,
        id_tag="=HYPERLINK(1)",
        meter_start_wh=0,
        started_at=T0.replace(hour=12),
        free_charging=True,
    )
    client.force_login(operator)
    response = client.post(
        reverse("admin:transactions_transaction_changelist"),
        {"action": "export_csv", "_selected_action": [charging.pk, other.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    first, second = rows(response)
    assert first["transaction_id"] == charging.transaction_id
    assert (first["station"], first["connector"], first["id_tag"]) == ("CP-DASH-1", "1", "TAG-1")
    assert (first["duration_s"], first["energy_wh"], first["stop_reason"]) == (
        "3600",
        "500",
        "EVDisconnected",
    )
    assert first["started_at"] == "2025-03-01T10:00:00+00:00"
    assert second["id_tag"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert second["stopped_at"] == "" and second["duration_s"] == ""


def test_a_transaction_page_links_its_meter_values_as_csv(client, operator, charging):
    client.force_login(operator)
    page = client.get(reverse("admin:transactions_transaction_change", args=[charging.pk]))
    url = reverse("admin:transactions_transaction_meter_values_csv", args=[charging.pk])
    assert url in page.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    values = rows(response)
    assert len(values) == 6
    assert values[0]["measurand"] == "Energy.Active.Import.Register"
    power = [row for row in values if row["measurand"] == "Power.Active.Import"]
    assert [row["normalized_value"] for row in power] == ["6000.0", "7000.0", "7400.0"]
    assert power[0]["unit"] == "kW" and power[0]["normalized_unit"] == "W"


def test_the_meter_values_csv_needs_permission(client, viewer, charging):
    client.force_login(viewer)  # may see stations, not transactions
    url = reverse("admin:transactions_transaction_meter_values_csv", args=[charging.pk])
    assert client.get(url).status_code in (403, 404)


def test_cells_never_start_a_formula():
    assert [cell(v) for v in ("=1+1", "+1", "-1", "@x", "ok", None, 5)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@x",
        "ok",
        "",
        5,
    ]


def test_transactions_are_read_only_in_the_admin(client, operator, charging):
    client.force_login(operator)
    page = client.get(reverse("admin:transactions_transaction_change", args=[charging.pk]))
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "svg" in html and 'class="cc-chart-line"' in html
    assert Transaction.objects.count() == 1
    assert client.get(reverse("admin:transactions_transaction_add")).status_code == 403
