"""Template helpers of the control center: figures, status words, panels' data."""

from __future__ import annotations

from typing import Any

from django import template

from apps.chargers.models import ChargingStation
from apps.commands import answers
from apps.dashboard import admin_index, labels, selectors
from apps.dashboard.models import Favorite
from apps.transactions.labels import duration, kw, kwh
from apps.transactions.models import Transaction

register = template.Library()

register.filter("kw", kw)
register.filter("kwh", kwh)
register.filter("status_label", labels.status_label)
register.filter("duration", duration)


@register.filter
def cost_of(costs: dict[int, str], transaction_pk: int) -> str:
    """Return a running session's cost so far from the page's costs, "-" without one."""
    return (costs or {}).get(transaction_pk, "-")


@register.filter
def status_class(status: str) -> str:
    """Return the CSS class that colours a connector status."""
    return f"cc-status-{(status or 'unknown').lower()}"


@register.simple_tag
def favorites_of(user: Any) -> list[Favorite]:
    """Return the operator's favorites, in their order; none for an anonymous visitor."""
    if not getattr(user, "is_authenticated", False):
        return []
    return selectors.user_favorites(user_id=user.pk)


@register.simple_tag
def transactions_of(station: ChargingStation) -> list[Transaction]:
    """Return the station's latest transactions (20), newest first."""
    return selectors.station_transactions(station=station)


@register.simple_tag
def message_log_actions(charger_id: str) -> list[str]:
    """Return the OCPP actions in the station's message log, for the log's filter."""
    return selectors.message_log_actions(charger_id=charger_id)


@register.simple_tag
def live_words() -> dict[str, Any]:
    """Return the words the live pages' script writes, in the active language."""
    return labels.live_labels()


@register.simple_tag
def admin_index_groups(app_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the admin index's models grouped by what operators do (apps/dashboard)."""
    return admin_index.admin_index_groups(app_list)


register.filter("answer_summary", answers.answer_summary)
register.filter("command_label", answers.command_label)
