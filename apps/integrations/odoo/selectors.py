"""Reads: the configured instances, and Odoo's product catalogue (docs/odoo.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.integrations.odoo.client import OdooClient, OdooError
from apps.integrations.odoo.models import OdooInstance, TariffProduct

PRODUCT_FIELDS = ["id", "name", "default_code", "list_price", "taxes_id"]


def client_for(*, instance: OdooInstance, retries: int | None = None) -> OdooClient:
    """Return a client of `instance` as its configured (service) user."""
    if not instance.has_api_key or not instance.api_key():
        raise OdooError(
            _("Odoo instance %(name)s has no API key: enter it in the admin.")
            % {"name": instance.name},
            permanent=True,
        )
    return OdooClient(
        url=instance.url,
        database=instance.database,
        login=instance.username,
        secret=instance.api_key(),
        retries=retries,
    )


def instances_active(**flags: bool) -> QuerySet[OdooInstance]:
    """Enabled instances (none while ODOO_ENABLED is off), filtered by flags (push_sales=...)."""
    if not getattr(settings, "ODOO_ENABLED", False):
        return OdooInstance.objects.none()
    return OdooInstance.objects.filter(enabled=True, **flags).order_by("pk")


@dataclass(frozen=True)
class Tax:
    id: int
    name: str
    amount: Decimal
    amount_type: str


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    code: str
    price: Decimal
    taxes: tuple[Tax, ...]

    @property
    def taxes_text(self) -> str:
        return ", ".join(tax.name for tax in self.taxes)


def _text(value: Any) -> str:
    # Odoo answers False for an empty field.
    return "" if value is False or value is None else str(value)


def _products(client: OdooClient, rows: list[dict[str, Any]]) -> list[Product]:
    tax_ids = sorted({tax for row in rows for tax in row.get("taxes_id") or []})
    taxes: dict[int, Tax] = {}
    if tax_ids:
        for tax in client.read("account.tax", tax_ids, fields=["name", "amount", "amount_type"]):
            taxes[tax["id"]] = Tax(
                id=tax["id"],
                name=_text(tax.get("name")),
                amount=Decimal(str(tax.get("amount") or 0)),
                amount_type=_text(tax.get("amount_type")),
            )
    return [
        Product(
            id=row["id"],
            name=_text(row.get("name")),
            code=_text(row.get("default_code")),
            price=Decimal(str(row.get("list_price") or 0)),
            taxes=tuple(taxes[t] for t in row.get("taxes_id") or [] if t in taxes),
        )
        for row in rows
    ]


def products_search(
    *, instance: OdooInstance, query: str, limit: int = 20, client: OdooClient | None = None
) -> list[Product]:
    """Return saleable products whose name or internal reference contains `query`."""
    client = client or client_for(instance=instance)
    query = query.strip()
    domain: list[Any] = [["sale_ok", "=", True]]
    if query:
        domain += ["|", ["name", "ilike", query], ["default_code", "ilike", query]]
    rows = client.search_read("product.product", domain, fields=PRODUCT_FIELDS, limit=limit)
    return _products(client, rows)


def product_get(
    *, instance: OdooInstance, product_id: int, client: OdooClient | None = None
) -> Product | None:
    """Return one product by its Odoo id; None when Odoo has no such product."""
    client = client or client_for(instance=instance)
    rows = client.search_read(
        "product.product", [["id", "=", int(product_id)]], fields=PRODUCT_FIELDS, limit=1
    )
    products = _products(client, rows)
    return products[0] if products else None


def tariff_product_for(*, instance: OdooInstance, tariff_code: str) -> TariffProduct | None:
    return TariffProduct.objects.filter(instance=instance, tariff_code=tariff_code).first()
