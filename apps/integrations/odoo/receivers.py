"""Receivers of lower apps' signals (connected in OdooConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.db import transaction as db_transaction

from apps.integrations.odoo.models import SessionSale
from apps.integrations.odoo.selectors import instances_active
from apps.integrations.odoo.tasks import push_session_sale


def on_transaction_priced(*, transaction_pk: int, **_kwargs: Any) -> None:
    """Record the session's sale as pending and queue its push once the cost is committed.

    The pending row is written in the pricing's own transaction, so a push that is never
    queued (no broker) or never runs is still found by the retry job.
    """
    instances = list(instances_active(push_sales=True))
    if not instances:
        return
    for instance in instances:
        SessionSale.objects.get_or_create(instance=instance, transaction_id=transaction_pk)
    db_transaction.on_commit(lambda: push_session_sale.delay(transaction_pk), robust=True)
