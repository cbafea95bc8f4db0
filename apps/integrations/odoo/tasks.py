"""Celery tasks of the Odoo integration: the users sync and the sales push (docs/odoo.md)."""

from __future__ import annotations

from celery import shared_task

from apps.integrations.odoo import services


@shared_task
def sync_users() -> dict[str, str]:
    """Sync the operator accounts of every instance with `sync_users` on (beat)."""
    return services.users_sync_all()


@shared_task
def push_session_sale(transaction_pk: int) -> str | None:
    """Push one priced session as a sale order (idempotent)."""
    sale = services.session_sale_push(transaction_pk=transaction_pk)
    return None if sale is None else sale.state


@shared_task
def push_pending_sales() -> int:
    """Push again the sales Odoo could not take earlier (beat)."""
    return services.session_sales_push_pending()
