"""CSV exports of transactions and of a transaction's meter values."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.text import slugify

from apps.core.timeutil import utcnow
from apps.transactions.labels import cost_text
from apps.transactions.models import MeterValue, Transaction

TRANSACTION_COLUMNS = [
    "station",
    "connector",
    "transaction_id",
    "id_tag",
    "authorization_status",
    "started_at",
    "stopped_at",
    "duration_s",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "stop_reason",
    "stop_id_tag",
    "cost",
    "currency",
    "tariff",
]
METER_VALUE_COLUMNS = [
    "timestamp",
    "connector",
    "measurand",
    "phase",
    "location",
    "context",
    "value",
    "unit",
    "normalized_value",
    "normalized_unit",
]
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """Return `value` as a CSV cell: times in ISO 8601 UTC, text never read as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return response


def transactions_csv(queryset: QuerySet[Transaction]) -> HttpResponse:
    """Return the transactions of `queryset` as a CSV download, oldest first."""
    transactions = queryset.select_related("station", "connector", "tariff").order_by(
        "started_at", "id"
    )

    def rows() -> Iterable[list[Any]]:
        for tx in transactions.iterator(chunk_size=500):
            duration = (
                round((tx.stopped_at - tx.started_at).total_seconds()) if tx.stopped_at else None
            )
            yield [
                tx.station.charger_id,
                tx.connector.connector_id if tx.connector else None,
                tx.transaction_id,
                tx.id_tag,
                tx.authorization_status,
                tx.started_at,
                tx.stopped_at,
                duration,
                tx.meter_start_wh,
                tx.meter_stop_wh,
                tx.energy_wh,
                tx.stop_reason,
                tx.stop_id_tag,
                cost_text(tx),
                tx.tariff.currency if tx.tariff else None,
                str(tx.tariff) if tx.tariff else None,
            ]

    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return _csv_response(f"transactions-{stamp}.csv", TRANSACTION_COLUMNS, rows())


def meter_values_csv(transaction: Transaction) -> HttpResponse:
    """Return every meter value of `transaction` as a CSV download, in time order."""
    values = MeterValue.objects.filter(transaction=transaction).order_by("timestamp", "id")

    def rows() -> Iterable[list[Any]]:
        for mv in values.iterator(chunk_size=1000):
            yield [
                mv.timestamp,
                mv.connector_id,
                mv.measurand,
                mv.phase,
                mv.location,
                mv.context,
                mv.value,
                mv.unit,
                mv.normalized_value,
                mv.normalized_unit,
            ]

    station = transaction.station.charger_id
    name = slugify(f"{station}-{transaction.transaction_id}") or "transaction"
    return _csv_response(f"meter-values-{name}.csv", METER_VALUE_COLUMNS, rows())
