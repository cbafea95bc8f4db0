"""Celery tasks of charging sessions: pricing and the balance margin (apps.transactions.billing)."""

from __future__ import annotations

from celery import shared_task

from apps.transactions import billing


@shared_task
def price_transaction(transaction_pk: int) -> str | None:
    """Price one stopped session and charge its account (idempotent)."""
    cost = billing.transaction_price(transaction_pk=transaction_pk)
    return None if cost is None else str(cost.total)


@shared_task
def price_pending_transactions() -> int:
    """Price sessions stopped recently that have no cost yet (a failed or lost pricing)."""
    return billing.transactions_price_pending()


@shared_task
def check_balance_margins() -> int:
    """Stop running sessions whose account is at ENERGY_STOP_MARGIN; return how many."""
    return len(billing.transactions_margin_check())
