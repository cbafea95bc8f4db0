"""Reservations (OCPP 1.6 ReserveNow / CancelReservation): writes.

A reservation is stored first and then sent through the one command path; the station's
answer is applied by the effects registered in `apps.reservations.effects`.
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


class ReservationError(ValueError):
    """The reservation cannot be made or cancelled as asked."""


def _check_version(station: ChargingStation) -> None:
    if station.ocpp_version and station.ocpp_version != OcppVersion.V16:
        raise ReservationError(
            f"{station.charger_id} speaks {station.ocpp_version}; reservations are sent "
            "as OCPP 1.6 ReserveNow / CancelReservation"
        )


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
    supports it). `parent_id_tag` defaults to the stored tag's parent. The reservation is
    pending until the station answers; a station that is offline makes it rejected at once.
    Raise ReservationError when nothing can be reserved or the payload is not valid OCPP.

    Locking: the station row is locked while a connector is picked, so two concurrent
    requests cannot pick the same connector.
    """
    _check_version(station)
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
    if not parent_id_tag:
        tag = IdTag.objects.select_related("parent").filter(id_tag=id_tag).first()
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
        )
        payload = {
            "connectorId": connector.connector_id,
            "expiryDate": format_ocpp_datetime(expires_at),
            "idTag": id_tag,
            "reservationId": reservation.reservation_id,
        }
        if parent_id_tag:
            payload["parentIdTag"] = parent_id_tag
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

    Raise ReservationError when the reservation is no longer pending or accepted.
    """
    reservation.refresh_from_db(fields=["status"])
    _check_version(reservation.station)
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
        # A command sent by hand (not through these services) still names the reservation.
        found = rows.filter(
            station_id=command.station_id, reservation_id=command.payload.get("reservationId")
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


def reservation_use(
    *, station_id: int, reservation_id: int, transaction: Transaction
) -> Reservation | None:
    """Mark the reservation a StartTransaction quoted used, and link the session to it.

    The station is the authority: whatever we last knew (even expired or cancelled), the
    session started on this reservation. An id we never issued is logged and ignored.
    Call inside the caller's atomic block (transaction_start), so both commit together.
    """
    reservation = (
        Reservation.objects.select_for_update()
        .filter(station_id=station_id, reservation_id=reservation_id)
        .first()
    )
    if reservation is None:
        logger.warning(
            "station %s: StartTransaction names unknown reservation %s", station_id, reservation_id
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
