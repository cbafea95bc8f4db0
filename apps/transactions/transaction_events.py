"""Writes of OCPP 2.x TransactionEvents: a charging session told as a sequence of events.

Events may come out of order or twice; each event is applied once. An event is its sequence
number, type, trigger and time: a frame equal in all four is a replay (a station resending
after a reconnect), anything else is applied, also when its sequence number was used
before (some stations send seqNo 0 on every event), with a warning and a
`TransactionSeqNoReused` security event. The connection's OpenTransactionCache spares the
common event (Updated) its read of the session row. Like every write of this app,
committed before the handler answers, and idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction as db_transaction

from apps.chargers.services import connector_get_or_create
from apps.core.batch import insert_rows
from apps.core.events import TransactionEventRecorded
from apps.core.live import publish, watched
from apps.rfid.services import IdTagInfo, id_tag_authorize
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record
from apps.transactions import statements
from apps.transactions.billing import transaction_price_after_commit
from apps.transactions.models import Transaction, TransactionEvent
from apps.transactions.readings import summarize_samples
from apps.transactions.samples import SampledValue, samples_store
from apps.transactions.units import normalize

logger = logging.getLogger(__name__)

# The security event of a station that used a sequence number again for another event.
SEQ_NO_REUSED = "TransactionSeqNoReused"


@dataclass(frozen=True)
class TransactionEventData:
    """What an OCPP 2.x TransactionEvent says, version-neutral."""

    event_type: str  # Started, Updated, Ended
    transaction_id: str
    seq_no: int
    timestamp: datetime
    trigger_reason: str
    payload: dict
    offline: bool = False
    charging_state: str = ""
    stopped_reason: str = ""
    remote_start_id: int | None = None
    reservation_id: int | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str = ""
    id_token_type: str = ""
    samples: tuple[SampledValue, ...] = ()


ENERGY_REGISTER = "Energy.Active.Import.Register"


def _energy_reading(samples: tuple[SampledValue, ...], contexts: tuple[str, ...]) -> int | None:
    for sample in samples:
        if (sample.measurand or ENERGY_REGISTER) != ENERGY_REGISTER:
            continue
        if sample.context not in contexts:
            continue
        value, unit = normalize(
            ENERGY_REGISTER, sample.unit, sample.value, sample.format, sample.multiplier
        )
        if value is not None and unit == "Wh":
            return round(value)
    return None


class OpenTransactionCache:
    """What one charger connection knows of its running 2.x sessions, between its events.

    A session's row as this connection last wrote it, and its connector's number. With it,
    the common event (Updated: a meter value, a charging state) is applied without reading
    or locking the row: no database round trip before the batch's commit, which on
    PostgreSQL had been most of an event's cost. What a connection remembers is right as
    long as it alone writes its sessions' event state, which holds while it is the
    station's only connection (a second one is refused, or replaces it). Anything
    else (a first event, one out of order, an id token, a reservation, a new connector,
    Started, Ended) reads the row as before; a failed event forgets its session, and the
    connection forgets everything when a frame's work is not committed
    (ChargerConnection.forget).
    """

    # A station has a session per EVSE at most; this bounds a misbehaving one's memory.
    LIMIT = 16

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[Transaction, int]] = {}
        # Sessions whose reused sequence number was reported: once per session and connection.
        self._reported: set[str] = set()

    def get(self, transaction_id: str) -> tuple[Transaction, int] | None:
        return self._sessions.get(transaction_id)

    def keep(self, tx: Transaction, connector_number: int) -> None:
        if tx.stopped_at is not None:
            self._sessions.pop(tx.transaction_id, None)
            return
        if len(self._sessions) >= self.LIMIT and tx.transaction_id not in self._sessions:
            self._sessions.pop(next(iter(self._sessions)))
        self._sessions[tx.transaction_id] = (tx, connector_number)

    def drop(self, transaction_id: str) -> None:
        self._sessions.pop(transaction_id, None)
        self._reported.discard(transaction_id)

    def first_report(self, transaction_id: str) -> bool:
        """Tell whether the session's reused sequence number is not yet reported; note it."""
        if transaction_id in self._reported:
            return False
        if len(self._reported) >= self.LIMIT:
            self._reported.clear()
        self._reported.add(transaction_id)
        return True


def _needs_the_row(tx: Transaction, event: TransactionEventData) -> bool:
    """Tell whether an event must read its session's row (see OpenTransactionCache)."""
    return (
        event.event_type != "Updated"
        or tx.last_seq_no is None
        or event.seq_no <= tx.last_seq_no  # out of order or a replay: stored already?
        or bool(event.id_token)
        or event.reservation_id is not None
        or (event.evse_id is not None and tx.connector_id is None)
    )


def transaction_event_record(
    *,
    station_id: int,
    event: TransactionEventData,
    free_charging: bool = False,
    open_transactions: OpenTransactionCache | None = None,
    charger_id: str = "",
) -> tuple[Transaction, IdTagInfo | None]:
    """Apply an OCPP 2.x TransactionEvent; return the session and the id token's info.

    Events may arrive out of order or twice (offline queues, reconnects): each event (its
    sequence number, type, trigger and time) is applied once, the session is created by
    whichever event comes first, and state (charging state) follows the highest sequence
    number seen. An event whose sequence number another event has already is applied too,
    reported as a TransactionSeqNoReused security event (once per session and connection).
    The id token info is returned whenever the event carries an id token, replay or not.
    `open_transactions`: the connection's OpenTransactionCache, which spares the common
    event its read of the session.
    """
    remembered = (
        open_transactions.get(event.transaction_id) if open_transactions is not None else None
    )
    try:
        if remembered is not None and not _needs_the_row(remembered[0], event):
            tx, connector_number = remembered
            _store_event(tx, event)
            _apply_event(tx, event, None, connector_number)
            info = None
        else:
            tx, info, connector_number = _record_with_the_row(
                station_id, event, free_charging, open_transactions, charger_id
            )
            if open_transactions is not None:
                open_transactions.keep(tx, connector_number)
    except BaseException:
        if open_transactions is not None:
            open_transactions.drop(event.transaction_id)
        raise
    if watched():  # the figures cost something: only for an event that will be sent
        power_w, register_wh = summarize_samples(event.samples)
        publish(
            TransactionEventRecorded(
                station=station_id,
                connector=event.evse_id,
                transaction=tx.pk,
                transaction_id=tx.transaction_id,
                id_tag=tx.id_tag,
                meter_start_wh=tx.meter_start_wh,
                started_at=tx.started_at,
                stopped_at=tx.stopped_at,
                reason=tx.stop_reason,
                active=tx.stopped_at is None,
                power_w=power_w,
                register_wh=register_wh,
            )
        )
    return tx, info


def _store_event(tx: Transaction, event: TransactionEventData) -> None:
    # A replayed event (same sequence number, type, trigger and time) is skipped by the
    # unique constraint.
    insert_rows(
        TransactionEvent,
        [
            {
                "transaction_id": tx.pk,
                "seq_no": event.seq_no,
                "event_type": event.event_type,
                "trigger_reason": event.trigger_reason,
                "timestamp": event.timestamp,
                "offline": event.offline,
                "charging_state": event.charging_state,
                "payload": event.payload,
            }
        ],
        ignore_conflicts=True,
    )


def _record_with_the_row(
    station_id: int,
    event: TransactionEventData,
    free_charging: bool,
    open_transactions: OpenTransactionCache | None,
    charger_id: str,
) -> tuple[Transaction, IdTagInfo | None, int]:
    """transaction_event_record's general case: read and lock the session's row first.

    Returns the session, the id token's info and the number of the session's connector.
    """
    # No savepoint of its own: it succeeds or fails whole with its caller (a group-commit
    # job has a savepoint already), and a savepoint per event was a good part of its cost.
    with db_transaction.atomic(savepoint=False):
        # The session row is locked (PostgreSQL; SQLite's writers take turns): its events are
        # applied one at a time. A statement built once: this runs for every event.
        # One statement: the session, whether this event or its sequence number is stored
        # already, and its connector's number.
        tx, state, connector_number = statements.transaction_for_event(
            station_id=station_id,
            transaction_id=event.transaction_id,
            seq_no=event.seq_no,
            event_type=event.event_type,
            trigger_reason=event.trigger_reason,
            timestamp=event.timestamp,
        )
        if tx is None:
            tx = Transaction.objects.create(
                station_id=station_id,
                transaction_id=event.transaction_id,
                started_at=event.timestamp,
            )
        # A connection sends its next frame only once this one is answered, so the same
        # event cannot be in flight twice: check, then insert with the batch.
        created = state != statements.EVENT_STORED
        if created:
            _store_event(tx, event)
        if state == statements.EVENT_REUSED:
            _report_reused_seq_no(tx, event, open_transactions, charger_id)
        info = None
        if event.id_token:
            busy = (
                event.event_type == "Started"
                and Transaction.objects.filter(id_tag=event.id_token, stopped_at__isnull=True)
                .exclude(pk=tx.pk)
                .exists()
            )
            if event.id_token_type == "NoAuthorization":
                info = IdTagInfo(status="Accepted")
            else:
                info = id_tag_authorize(
                    id_tag=event.id_token,
                    free_charging=free_charging,
                    has_active_transaction=busy,
                )
        if created:
            connector_number = _apply_event(tx, event, info, connector_number)
    return tx, info, connector_number or 0


def _report_reused_seq_no(
    tx: Transaction,
    event: TransactionEventData,
    open_transactions: OpenTransactionCache | None,
    charger_id: str,
) -> None:
    """Report an event applied although another event of its session has its seqNo."""
    if open_transactions is not None and not open_transactions.first_report(tx.transaction_id):
        # Reported already on this connection: a station with the bug repeats it each event.
        logger.info(
            "%s: transaction %s: seqNo %s used again (%s, %s), applied",
            charger_id or tx.station_id,
            tx.transaction_id,
            event.seq_no,
            event.event_type,
            event.trigger_reason,
        )
        return
    # security_event_record logs it at WARNING too.
    security_event_record(
        source=SecurityEvent.Source.CSMS,
        event_type=SEQ_NO_REUSED,
        charger_id=charger_id,
        station_id=tx.station_id,
        tech_info=(
            f"transaction {tx.transaction_id}: seqNo {event.seq_no} used again by another event"
            f" ({event.event_type}, {event.trigger_reason}, {event.timestamp.isoformat()});"
            " applied, not taken for a replay"
        ),
    )


# What a TransactionEvent may change on its session.
TX_EVENT_FIELDS = [
    "connector",
    "started_at",
    "id_tag",
    "id_tag_ref",
    "authorization_status",
    "authorization_reason",
    "account",
    "stop_id_tag",
    "remote_start_id",
    "reservation_id",
    "offline",
    "last_seq_no",
    "charging_state",
    "meter_start_wh",
    "meter_stop_wh",
    "stopped_at",
    "stop_reason",
    "updated_at",
]


_TX_EVENT_ATTNAMES = [Transaction._meta.get_field(name).attname for name in TX_EVENT_FIELDS]


def _apply_event(
    tx: Transaction,
    event: TransactionEventData,
    info: IdTagInfo | None,
    connector_number: int | None = None,
) -> int | None:
    """Apply a new event to its session; return the session's connector number, if known."""
    before = [getattr(tx, attname) for attname in _TX_EVENT_ATTNAMES]
    connector = None
    if event.evse_id is not None and tx.connector_id is None:
        tx.connector = connector = connector_get_or_create(
            station_id=tx.station_id, connector_id=event.evse_id
        )
    if event.event_type == "Started" or event.timestamp < tx.started_at:
        tx.started_at = min(tx.started_at, event.timestamp)
    if info is not None and event.id_token:
        if not tx.id_tag:
            tx.id_tag = event.id_token
            tx.id_tag_ref = info.tag
            tx.authorization_status = info.status
            tx.authorization_reason = info.reason
            tx.account_id = info.account_id  # only an account that accepted: it is charged
        elif event.event_type == "Ended" and event.id_token != tx.id_tag:
            tx.stop_id_tag = event.id_token
    if event.remote_start_id is not None:
        tx.remote_start_id = event.remote_start_id
    if event.reservation_id is not None:
        tx.reservation_id = event.reservation_id
    tx.offline = tx.offline or event.offline
    if tx.last_seq_no is None or event.seq_no >= tx.last_seq_no:
        tx.last_seq_no = event.seq_no
        if event.charging_state:
            tx.charging_state = event.charging_state
    start = _energy_reading(event.samples, ("Transaction.Begin",))
    if start is not None:
        tx.meter_start_wh = start
    if event.event_type == "Ended":
        tx.stopped_at = event.timestamp
        tx.stop_reason = event.stopped_reason or "Local"
        stop = _energy_reading(event.samples, ("Transaction.End", "Sample.Periodic", ""))
        if stop is not None:
            tx.meter_stop_wh = stop
        transaction_price_after_commit(transaction_pk=tx.pk)
    elif tx.meter_start_wh is None and event.event_type == "Started":
        tx.meter_start_wh = _energy_reading(event.samples, ("Sample.Periodic", "Trigger", ""))
    # Only what the event changed (the row is locked, so the rest is as loaded).
    changed = [
        name
        for name, attname, old in zip(TX_EVENT_FIELDS, _TX_EVENT_ATTNAMES, before, strict=True)
        if name != "updated_at" and getattr(tx, attname) != old
    ]
    # An Updated event's changes go with the batch's inserts: the session row stays locked
    # until the commit and its next event comes in a later batch (the station waits for
    # this answer). Started and Ended change what other sessions' checks read (id tag in
    # use, stopped), so they are written at once.
    statements.transaction_write_fields(
        tx=tx, fields=[*changed, "updated_at"], at_commit=event.event_type == "Updated"
    )
    if connector is not None:
        connector_number = connector.connector_id
    if event.samples:
        if tx.connector_id is not None:
            number = connector_number or 0
        else:
            number = event.evse_id or 0
        samples_store(tx.station_id, number, tx.pk, list(event.samples))
    return connector_number
