"""Reservations (ReserveNow / CancelReservation, OCPP 1.6 and 2.x): writes.

A reservation is stored first and then sent through the one command path; the station's
answer is applied by the effects declared in `apps.reservations.operations`. A 2.x station
also reports on its own when a reservation ends (ReservationStatusUpdate).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction as db_transaction

from apps.chargers.models import ChargingStation, OcppVersion
from apps.chargers.services import connector_get_or_create
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import CommandError, send_command
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.reservations import selectors
from apps.reservations.models import ACTIVE_STATUSES, Reservation, ReservationStatus
from apps.rfid.models import IdTag
from apps.rfid.services import group_id_token, id_token
from apps.transactions.models import Transaction

logger = logging.getLogger(__name__)

MAX_RESERVATION_ID = 2**31 - 1

# ReserveNow answer → reservation status.
RESERVE_NOW_ANSWERS = {
    "Accepted": ReservationStatus.ACCEPTED,
    "Faulted": ReservationStatus.FAULTED,
    "Occupied": ReservationStatus.OCCUPIED,
    "Rejected": ReservationStatus.REJECTED,
    "Unavailable": ReservationStatus.UNAVAILABLE,
}


# ReservationStatusUpdate (OCPP 2.x) → reservation status. 2.1's NoTransaction: the
# reservation ended without a session, as an expiry does.
RESERVATION_UPDATES = {
    "Expired": ReservationStatus.EXPIRED,
    "Removed": ReservationStatus.CANCELLED,
    "NoTransaction": ReservationStatus.EXPIRED,
}


class ReservationError(ValueError):
    """The reservation cannot be made or cancelled as asked."""


def _speaks_v2(station: ChargingStation) -> bool:
    return station.ocpp_version in (OcppVersion.V201, OcppVersion.V21)


def _reserve_now_payload(
    *, station: ChargingStation, reservation: Reservation, connector_id: int, token_type: str
) -> dict[str, Any]:
    """Return ReserveNow as the station's OCPP version spells it."""
    if _speaks_v2(station):
        payload: dict[str, Any] = {
            "id": reservation.reservation_id,
            "expiryDateTime": format_ocpp_datetime(reservation.expires_at),
            "idToken": id_token(reservation.id_tag, token_type),
        }
        if connector_id > 0:  # no evseId: any EVSE of the station
            payload["evseId"] = connector_id
        if reservation.parent_id_tag:
            payload["groupIdToken"] = group_id_token(reservation.parent_id_tag)
        return payload
    payload = {
        "connectorId": connector_id,
        "expiryDate": format_ocpp_datetime(reservation.expires_at),
        "idTag": reservation.id_tag,
        "reservationId": reservation.reservation_id,
    }
    if reservation.parent_id_tag:
        payload["parentIdTag"] = reservation.parent_id_tag
    return payload


def _user(requested_by: Any) -> Any:
    return requested_by if getattr(requested_by, "is_authenticated", False) else None


def _new_reservation_id() -> int:
    """Return an unguessable positive 31-bit id no reservation has yet."""
    while True:
        candidate = secrets.randbelow(MAX_RESERVATION_ID) + 1
        if not Reservation.objects.filter(reservation_id=candidate).exists():
            return candidate


def reservation_create(
    *,
    station: ChargingStation,
    id_tag: str,
    expires_at: datetime,
    connector_id: int | None = None,
    parent_id_tag: str = "",
    requested_by: Any = None,
    source: str = "api",
) -> Reservation:
    """Reserve a connector of `station` for `id_tag` until `expires_at`; send ReserveNow.

    Without `connector_id` the lowest connector (id > 0) last reported Available and held by
    no active reservation is taken; connector 0 reserves "any connector" (if the station
    supports it). For an OCPP 2.x station a connector id is an EVSE id, and the idToken
    type is the stored tag's (ISO14443 for an unknown tag). `parent_id_tag` defaults to the
    stored tag's parent (2.x: the groupIdToken). The reservation is pending until the
    station answers; a station that is offline makes it rejected at once.
    Raise ReservationError when nothing can be reserved or the payload is not valid OCPP.

    Locking: the station row is locked while a connector is picked, so two concurrent
    requests cannot pick the same connector.
    """
    id_tag = id_tag.strip()
    if not id_tag:
        raise ReservationError("an id tag is required")
    if expires_at.tzinfo is None:
        raise ReservationError("the expiry time must carry a time zone")
    now = utcnow()
    if expires_at <= now:
        raise ReservationError("the expiry time is in the past")
    if connector_id is not None and connector_id < 0:
        raise ReservationError("a connector id is 0 (any) or positive")
    tag = IdTag.objects.select_related("parent").filter(id_tag=id_tag).first()
    if not parent_id_tag:
        parent_id_tag = tag.parent.id_tag if tag is not None and tag.parent else ""
    with db_transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station.pk)
        if connector_id is None:
            connector = selectors.connector_free_for_reservation(station_id=station.pk, now=now)
            if connector is None:
                raise ReservationError(
                    f"{station.charger_id} has no free connector (none reported Available "
                    "without a reservation)"
                )
        else:
            held = (
                selectors.reservations_active(station_id=station.pk, now=now)
                .filter(connector__connector_id=connector_id)
                .first()
            )
            if held is not None:
                raise ReservationError(
                    f"connector {connector_id} of {station.charger_id} is already reserved "
                    f"(reservation {held.reservation_id})"
                )
            connector = connector_get_or_create(station_id=station.pk, connector_id=connector_id)
        reservation = Reservation.objects.create(
            station=station,
            connector=connector,
            reservation_id=_new_reservation_id(),
            id_tag=id_tag,
            parent_id_tag=parent_id_tag,
            expires_at=expires_at,
            requested_by=_user(requested_by),
            # The card's energy account: whose reservation it is (docs/billing.md).
            account_id=tag.account_id if tag is not None else None,
        )
        payload = _reserve_now_payload(
            station=station,
            reservation=reservation,
            connector_id=connector.connector_id,
            token_type=tag.token_type if tag is not None else "",
        )
        try:
            command = send_command(
                station=station,
                action="ReserveNow",
                payload=payload,
                requested_by=requested_by,
                source=source,
            )
        except CommandError as exc:
            raise ReservationError(str(exc)) from exc
        reservation.command = command
        if command.status == CommandStatus.OFFLINE:
            reservation.status = ReservationStatus.REJECTED
        reservation.save(update_fields=["command", "status"])
    logger.info(
        "%s: reservation %s of connector %s for %s sent (command %s)",
        station.charger_id,
        reservation.reservation_id,
        connector.connector_id,
        id_tag,
        command.pk,
    )
    return reservation


def reservation_cancel(
    *, reservation: Reservation, requested_by: Any = None, source: str = "api"
) -> ChargerCommand:
    """Send CancelReservation; the reservation becomes cancelled when the station accepts.

    The message is the same in OCPP 1.6 and 2.x. Raise ReservationError when the
    reservation is no longer pending or accepted.
    """
    reservation.refresh_from_db(fields=["status"])
    if reservation.status not in ACTIVE_STATUSES:
        raise ReservationError(
            f"reservation {reservation.reservation_id} is {reservation.status}: "
            "only pending or accepted reservations can be cancelled"
        )
    with db_transaction.atomic():
        command = send_command(
            station=reservation.station,
            action="CancelReservation",
            payload={"reservationId": reservation.reservation_id},
            requested_by=requested_by,
            source=source,
        )
        reservation.cancel_command = command
        reservation.save(update_fields=["cancel_command"])
    return command


def _reservation_of(command: ChargerCommand, link: str) -> Reservation | None:
    """Return the reservation a ReserveNow/CancelReservation command was sent for (locked)."""
    rows = Reservation.objects.select_for_update()
    found = rows.filter(**{link: command}).first()
    if found is None:
        # A command sent by hand (not through these services) still names the reservation:
        # reservationId (1.6 ReserveNow, CancelReservation) or id (2.x ReserveNow).
        payload = command.payload
        found = rows.filter(
            station_id=command.station_id,
            reservation_id=payload.get("reservationId", payload.get("id")),
        ).first()
    return found


def reservation_reserve_answered(*, command: ChargerCommand, answer: str) -> Reservation | None:
    """Apply the station's answer to ReserveNow to a pending reservation.

    Runs inside the atomic block that stores the command's outcome.
    """
    reservation = _reservation_of(command, "command")
    status = RESERVE_NOW_ANSWERS.get(answer)
    if reservation is None or status is None:
        return reservation
    if reservation.status == ReservationStatus.PENDING:
        reservation.status = status
        reservation.save(update_fields=["status"])
    return reservation


def reservation_cancel_answered(*, command: ChargerCommand, answer: str) -> Reservation | None:
    """Mark the reservation cancelled when the station accepted CancelReservation.

    A Rejected answer (the station holds no such reservation) changes nothing: the command
    keeps the answer, and the reservation ends by expiry or use.
    """
    reservation = _reservation_of(command, "cancel_command")
    if reservation is None or answer != "Accepted":
        return reservation
    if reservation.status in ACTIVE_STATUSES:
        reservation.status = ReservationStatus.CANCELLED
        reservation.save(update_fields=["status"])
    return reservation


def reservations_expire(*, now: datetime | None = None) -> int:
    """Mark pending and accepted reservations past their expiry time expired; return how many."""
    return Reservation.objects.filter(
        status__in=ACTIVE_STATUSES, expires_at__lte=now or utcnow()
    ).update(status=ReservationStatus.EXPIRED)


def reservations_settle_failed() -> int:
    """Mark pending reservations whose ReserveNow ended in a CALLERROR rejected; return how many.

    A CALLERROR carries no status, so no effect sees it; the station certainly holds nothing.
    (A timeout stays pending: the station may have taken it; expiry ends it.)
    """
    return Reservation.objects.filter(
        status=ReservationStatus.PENDING, command__status=CommandStatus.ERROR
    ).update(status=ReservationStatus.REJECTED)


def reservation_status_update(
    *, station_id: int, reservation_id: int, status: str
) -> Reservation | None:
    """Apply an OCPP 2.x ReservationStatusUpdate: the station's reservation ended unused.

    Expired (and 2.1's NoTransaction) mark it expired, Removed cancelled. Only a pending or
    accepted reservation changes: one already used, cancelled or expired keeps its status.
    An id we never issued is logged and ignored.
    """
    new_status = RESERVATION_UPDATES.get(status)
    with db_transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update()
            .filter(station_id=station_id, reservation_id=reservation_id)
            .first()
        )
        if reservation is None:
            logger.warning(
                "station %s: ReservationStatusUpdate %s names unknown reservation %s",
                station_id,
                status,
                reservation_id,
            )
            return None
        if new_status is not None and reservation.status in ACTIVE_STATUSES:
            reservation.status = new_status
            reservation.save(update_fields=["status"])
    return reservation


def reservation_use(
    *, station_id: int, reservation_id: int, transaction: Transaction
) -> Reservation | None:
    """Mark the reservation a session quoted used, and link the session to it.

    The session quotes it in 1.6 StartTransaction or 2.x TransactionEvent (reservationId).
    The station is the authority: whatever we last knew (even expired or cancelled), the
    session started on this reservation. An id we never issued is logged and ignored.
    The OCPP handlers call it in the same database job as transaction_start or
    transaction_event_record, so both commit together (transactions sit below reservations
    and do not call it themselves).
    """
    reservation = (
        Reservation.objects.select_for_update()
        .filter(station_id=station_id, reservation_id=reservation_id)
        .first()
    )
    if reservation is None:
        logger.warning(
            "station %s: a session names unknown reservation %s", station_id, reservation_id
        )
        return None
    if reservation.transaction_id is not None and reservation.transaction_id != transaction.pk:
        logger.warning(
            "station %s: reservation %s already used by session %s",
            station_id,
            reservation_id,
            reservation.transaction_id,
        )
        return reservation
    reservation.status = ReservationStatus.USED
    reservation.transaction = transaction
    reservation.save(update_fields=["status", "transaction"])
    return reservation
