"""Writes about OCPP 1.6 charging sessions (transactions) and meter readings.

OCPP 2.x TransactionEvents are in transaction_events.py, the storing of readings in
samples.py.

Every write here is committed before the OCPP handler answers, and every one is idempotent:
a station that did not see our answer (a reconnect) sends the same message again.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from auditlog.models import LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction as db_transaction

from apps.chargers.services import connector_get_or_create
from apps.core.events import (
    MeterValuesRecorded,
    TransactionStarted,
    TransactionStopped,
)
from apps.core.live import publish, watched
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.rfid.services import IdTagInfo, id_tag_authorize, v16_status
from apps.transactions import statements
from apps.transactions.billing import transaction_price_after_commit
from apps.transactions.models import Transaction
from apps.transactions.readings import summarize_samples
from apps.transactions.samples import SampledValue, samples_store
from apps.transactions.selectors import live_transaction

logger = logging.getLogger(__name__)

MAX_TRANSACTION_ID = 2**31 - 1
# The stop reason of a session an operator closed by hand (not an OCPP reason on purpose).
CLOSED_MANUALLY = "ClosedManually"


class TransactionCloseError(Exception):
    """A session cannot be closed by hand (already stopped, no reason given)."""


def new_transaction_id(station_id: int) -> str:
    """Return an unguessable positive 31-bit id not used by the station yet."""
    while True:
        candidate = str(secrets.randbelow(MAX_TRANSACTION_ID) + 1)
        if not Transaction.objects.filter(station_id=station_id, transaction_id=candidate).exists():
            return candidate


def transaction_start(
    *,
    station_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: datetime,
    free_charging: bool = False,
    reservation_id: int | None = None,
) -> tuple[Transaction, IdTagInfo]:
    """Open a session (OCPP 1.6 StartTransaction) and authorize its id tag.

    The session is stored whatever the authorization says: the station has started
    already and will stop by itself when the tag is not Accepted. An accepted tag's energy
    account becomes the session's (the one charged); a refusal by the account keeps its
    reason on the session (OCPP 1.6 says Blocked also for an exhausted account). A replay
    (same connector, tag, start time and meter) returns the session stored the first time.
    """
    connector = connector_get_or_create(station_id=station_id, connector_id=connector_id)
    with db_transaction.atomic():
        existing = (
            Transaction.objects.select_for_update()
            .filter(
                station_id=station_id,
                connector=connector,
                id_tag=id_tag,
                started_at=started_at,
                meter_start_wh=meter_start_wh,
            )
            .first()
        )
        if existing is not None:
            info = id_tag_authorize(id_tag=id_tag, free_charging=free_charging)
            return existing, IdTagInfo(
                status=existing.authorization_status or info.status,
                expiry_date=info.expiry_date,
                parent_id_tag=info.parent_id_tag,
                tag=info.tag,
            )
        busy = Transaction.objects.filter(id_tag=id_tag, stopped_at__isnull=True).exists()
        info = id_tag_authorize(
            id_tag=id_tag, free_charging=free_charging, has_active_transaction=busy
        )
        tx = Transaction.objects.create(
            station_id=station_id,
            connector=connector,
            transaction_id=new_transaction_id(station_id),
            id_tag=id_tag,
            id_tag_ref=info.tag,
            authorization_status=v16_status(info.status),
            authorization_reason=info.reason,
            account_id=info.account_id,
            reservation_id=reservation_id,
            meter_start_wh=meter_start_wh,
            started_at=started_at,
        )
    publish(
        TransactionStarted(
            station=station_id,
            connector=connector_id,
            transaction=tx.pk,
            transaction_id=tx.transaction_id,
            id_tag=id_tag,
            meter_start_wh=meter_start_wh,
            started_at=started_at,
        )
    )
    return tx, info


def transaction_stop(
    *,
    station_id: int,
    transaction_id: str,
    meter_stop_wh: int,
    stopped_at: datetime,
    reason: str = "",
    id_tag: str = "",
    transaction_data: list[SampledValue] | None = None,
) -> Transaction | None:
    """Close a session (OCPP 1.6 StopTransaction); a second stop of the same one changes nothing.

    Readings in `transaction_data` are kept even when the session is unknown, so nothing the
    station reports is lost. Returns the session, or None when the station named no known one.
    """
    with db_transaction.atomic():
        tx = (
            # of=self: PostgreSQL refuses to lock the nullable side of the connector join.
            Transaction.objects.select_for_update(of=("self",))
            .select_related("connector")
            .filter(station_id=station_id, transaction_id=transaction_id)
            .first()
        )
        if tx is not None and tx.stopped_at is None:
            tx.meter_stop_wh = meter_stop_wh
            tx.stopped_at = stopped_at
            tx.stop_reason = reason or "Local"
            tx.stop_id_tag = id_tag
            tx.save(
                update_fields=[
                    "meter_stop_wh",
                    "stopped_at",
                    "stop_reason",
                    "stop_id_tag",
                    "updated_at",
                ]
            )
            transaction_price_after_commit(transaction_pk=tx.pk)
        connector_id = tx.connector.connector_id if tx is not None and tx.connector else 0
        samples_store(station_id, connector_id, tx.pk if tx else None, transaction_data or [])
    publish(
        TransactionStopped(
            station=station_id,
            transaction=tx.pk if tx is not None else None,
            transaction_id=transaction_id,
            meter_stop_wh=meter_stop_wh,
            stopped_at=stopped_at,
            reason=reason,
        )
    )
    return tx


def meter_values_record(
    *,
    station_id: int,
    connector_id: int,
    transaction_id: str | None,
    samples: list[SampledValue],
) -> None:
    """Store sampled values (OCPP MeterValues); a replayed reading is not stored twice."""
    # No statement of its own: the reading's transaction is looked up by the batch's INSERT.
    tx_ref = (
        None
        if transaction_id is None
        else statements.transaction_key_lookup(station_id=station_id, transaction_id=transaction_id)
    )
    samples_store(station_id, connector_id, tx_ref, samples)
    if watched():  # the figures cost something: only for an event that will be sent
        power_w, register_wh = summarize_samples(samples)
        publish(
            MeterValuesRecorded(
                station=station_id,
                connector=connector_id,
                transaction_id=transaction_id,
                power_w=power_w,
                register_wh=register_wh,
            )
        )


def transaction_close_manually(
    *, transaction: Transaction, by: AbstractBaseUser, reason: str
) -> Transaction:
    """Close a session the station will never stop (it vanished), saying who and why.

    The session ends now with its energy as last measured (the newest register reading;
    none: no energy), stop reason `ClosedManually`, and is priced like any other stop. The
    audit log (django-auditlog) keeps the operator, the reason and what changed. Locks the
    row: a StopTransaction arriving meanwhile either comes first (then this refuses) or
    finds the session stopped and changes nothing.
    """
    reason = reason.strip()
    if not reason:
        raise TransactionCloseError("closing a session by hand needs a reason")
    register_wh = live_transaction(transaction=transaction).register_wh
    with db_transaction.atomic():
        tx = Transaction.objects.select_for_update(of=("self",)).get(pk=transaction.pk)
        if tx.stopped_at is not None:
            raise TransactionCloseError(f"session {tx.transaction_id} is already stopped")
        if register_wh is not None and tx.meter_start_wh is not None:
            tx.meter_stop_wh = max(int(register_wh), tx.meter_start_wh)
        else:
            tx.meter_stop_wh = tx.meter_start_wh
        tx.stopped_at = utcnow()
        tx.stop_reason = CLOSED_MANUALLY
        tx.save(update_fields=["meter_stop_wh", "stopped_at", "stop_reason", "updated_at"])
        LogEntry.objects.log_create(
            tx,
            force_log=True,
            action=LogEntry.Action.UPDATE,
            actor=by,
            changes={
                "stopped_at": ["None", format_ocpp_datetime(tx.stopped_at)],
                "stop_reason": ["", CLOSED_MANUALLY],
                "meter_stop_wh": ["None", str(tx.meter_stop_wh)],
            },
            additional_data={"reason": reason[:500]},
        )
        transaction_price_after_commit(transaction_pk=tx.pk)
    logger.info(
        "transaction %s of station %s closed by hand by %s: %s",
        tx.transaction_id,
        tx.station_id,
        by.get_username(),
        reason,
    )
    publish(
        TransactionStopped(
            station=tx.station_id,
            transaction=tx.pk,
            transaction_id=tx.transaction_id,
            meter_stop_wh=tx.meter_stop_wh or 0,
            stopped_at=tx.stopped_at,
            reason=CLOSED_MANUALLY,
        )
    )
    return tx
