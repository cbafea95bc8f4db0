"""Notifications to Slack: the live events worth telling, written and sent off the message path.

`listen()` (connected to `process_serving` when SLACK_ENABLED) subscribes this server
process to its live events (`apps.core.live.subscribe`). The listener only picks the events
Slack is told about and hands a small plain description to the Celery queue when a worker
runs, else to a background thread of this process (`background.run_later`); there the text
is written (station, site, energy, cost) and posted to the site's channel for its kind
(`notification_send`).

| live event | kind | told |
| --- | --- | --- |
| ConnectorStatusChanged, status Faulted | faults | connector (0: station), error code |
| StationDisconnected, station still offline when sent | faults | station offline |
| TransactionStopped / TransactionEventRecorded ended | sessions | energy, cost if priced |
| SecurityEventRecorded | security | type, station, detail (one per type and station a minute) |
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation
from apps.core.events import (
    ConnectorStatusChanged,
    LiveEvent,
    SecurityEventRecorded,
    StationDisconnected,
    TransactionEventRecorded,
    TransactionStopped,
)
from apps.core.live import subscribe, unsubscribe
from apps.integrations.slack.background import run_later
from apps.integrations.slack.client import SlackError
from apps.integrations.slack.models import NotificationKind
from apps.integrations.slack.services import notification_send
from apps.transactions.billing import transaction_running_cost
from apps.transactions.labels import money
from apps.transactions.models import Transaction

logger = logging.getLogger("apps.integrations.slack")

TASK = "apps.integrations.slack.tasks.notify"
# One Slack message per security event type and station in this many seconds.
SECURITY_EVERY_S = 60
# A session's end is told once, though 2.x may report its end again.
SESSION_TOLD_S = 24 * 3600


def describe(event: LiveEvent) -> dict[str, Any] | None:
    """Return what Slack is to be told about `event` (plain values), or None: nothing."""
    if isinstance(event, ConnectorStatusChanged):
        if event.status != "Faulted":
            return None
        return {
            "what": "faulted",
            "station": event.station,
            "connector": event.connector,
            "error_code": event.error_code,
        }
    if isinstance(event, StationDisconnected):
        return {"what": "offline", "station": event.station}
    if isinstance(event, TransactionStopped):
        if event.transaction is None:
            return None
        return {"what": "session", "station": event.station, "transaction": event.transaction}
    if isinstance(event, TransactionEventRecorded):
        if event.active or event.stopped_at is None:
            return None
        return {"what": "session", "station": event.station, "transaction": event.transaction}
    if isinstance(event, SecurityEventRecorded):
        return {
            "what": "security",
            "station": event.station,
            "charger_id": event.charger_id,
            "event_type": event.event_type,
            "tech_info": event.tech_info,
        }
    return None


def on_event(event: LiveEvent) -> None:
    """The live-event listener: hand what is worth telling to the queue or the thread."""
    described = describe(event)
    if described is not None:
        run_later(TASK, notify, described)


def listen(**_kwargs: Any) -> None:
    """Subscribe this process to its live events (connected to `process_serving`)."""
    if settings.SLACK_ENABLED:
        subscribe(on_event)


def stop_listening() -> None:
    unsubscribe(on_event)


def _station_name(station_id: int | None, fallback: str = "") -> str:
    if station_id is None:
        return fallback or "-"
    row = ChargingStation.objects.filter(pk=station_id).values_list("charger_id", flat=True)
    return row.first() or fallback or str(station_id)


def _session_text(transaction_pk: int) -> str | None:
    tx = (
        Transaction.objects.select_related("station", "connector", "tariff")
        .filter(pk=transaction_pk)
        .first()
    )
    if tx is None or tx.stopped_at is None:
        return None
    energy = "-"
    if tx.meter_start_wh is not None and tx.meter_stop_wh is not None:
        kwh = (Decimal(tx.meter_stop_wh - tx.meter_start_wh) / 1000).quantize(Decimal("0.001"))
        energy = f"{kwh} kWh"
    if tx.cost is not None and tx.tariff is not None:
        cost = money(tx.cost, tx.tariff.currency)
    else:
        try:
            priced = transaction_running_cost(transaction=tx)
        except Exception:  # a tariff that cannot price it: the message goes without a cost
            logger.warning("tx %s: cost not computed for Slack", tx.pk, exc_info=True)
            priced = None
        cost = money(priced.total, priced.currency) if priced is not None else _("not priced")
    return _(
        "Session %(transaction)s ended on %(station)s, connector %(connector)s "
        "(%(reason)s): %(energy)s, cost %(cost)s."
    ) % {
        "transaction": tx.transaction_id,
        "station": tx.station.charger_id,
        "connector": tx.connector.connector_id if tx.connector else "-",
        "reason": tx.stop_reason or "-",
        "energy": energy,
        "cost": cost,
    }


def text_for(described: dict[str, Any]) -> tuple[str, str] | None:
    """Return (kind, text) of the message, or None when there is nothing to tell any more."""
    what = described["what"]
    station = described.get("station")
    if what == "faulted":
        where = (
            _("station %(station)s")
            if not described["connector"]
            else _("station %(station)s, connector %(connector)s")
        ) % {"station": _station_name(station), "connector": described["connector"]}
        text = _(":warning: Faulted: %(where)s (error %(code)s).") % {
            "where": where,
            "code": described.get("error_code") or "-",
        }
        return NotificationKind.FAULTS, text
    if what == "offline":
        row = ChargingStation.objects.filter(pk=station).values("charger_id", "is_connected")
        found = row.first()
        if found is None or found["is_connected"]:
            return None  # back already, or replaced by a newer connection
        text = _(":electric_plug: Station %(station)s is offline.") % {
            "station": found["charger_id"]
        }
        return NotificationKind.FAULTS, text
    if what == "session":
        if not cache.add(f"slack:session-told:{described['transaction']}", 1, SESSION_TOLD_S):
            return None
        text = _session_text(described["transaction"])
        return (NotificationKind.SESSIONS, text) if text else None
    if what == "security":
        key = f"slack:security:{described['event_type']}:{described.get('charger_id', '')}"
        if not cache.add(key, 1, SECURITY_EVERY_S):
            return None
        text = _(":rotating_light: Security event %(type)s on %(station)s: %(detail)s") % {
            "type": described["event_type"],
            "station": _station_name(station, described.get("charger_id", "")),
            "detail": described.get("tech_info") or "-",
        }
        return NotificationKind.SECURITY, text
    return None


def notify(described: dict[str, Any]) -> bool:
    """Write and post one notification; True when it went to a channel. Never raises."""
    try:
        with translation.override(settings.LANGUAGE_CODE):
            message = text_for(described)
        if message is None:
            return False
        kind, text = message
        return notification_send(kind=kind, station_id=described.get("station"), text=text)
    except SlackError as exc:
        logger.warning("slack notification %s not sent: %s", described.get("what"), exc.code)
    except Exception:
        logger.exception("slack notification %s failed", described.get("what"))
    return False
