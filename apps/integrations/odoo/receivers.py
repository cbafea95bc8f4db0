"""Receivers of lower apps' signals (connected in OdooConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.db import transaction as db_transaction

from apps.integrations.odoo.selectors import instances_active
from apps.integrations.odoo.tasks import push_session_sale


def on_transaction_priced(*, transaction_pk: int, **_kwargs: Any) -> None:
    """Queue the session's sale for Odoo once its cost is committed (when configured)."""
    if not instances_active(push_sales=True).exists():
        return
    db_transaction.on_commit(lambda: push_session_sale.delay(transaction_pk))
