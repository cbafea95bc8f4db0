"""Reservations end to end: ReserveNow / CancelReservation over a real 1.6 websocket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.reservations.models import Reservation
from apps.reservations.services import (
    ReservationError,
    reservation_cancel,
    reservation_create,
)
from apps.reservations.tasks import expire_reservations
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


async def booted(cp, *available: int) -> ChargingStation:
    """Boot the charger, report `available` connectors Available; return its station."""
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    for connector_id in available:
        await cp.call(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status="Available"
            )
        )
    return await db(ChargingStation.objects.get, charger_id=cp.id)


def in_minutes(minutes: int):
    return utcnow() + timedelta(minutes=minutes)


async def reserve(server, **kwargs) -> Reservation:
    """Reserve through the service inside the server (as the admin and API do); await it."""
    reservation = await server.run(reservation_create, **kwargs)
    await wait_final(reservation.command_id)
    return await db(Reservation.objects.select_related("connector").get, pk=reservation.pk)


async def test_it_sends_reserve_now_for_an_explicit_connector(asgi_server):
    parent = await db(IdTag.objects.create, id_tag="FLEET")
    await db(IdTag.objects.create, id_tag="DRIVER", parent=parent)
    async with connect_v16(asgi_server.ws_url, "RES-EXPLICIT") as cp:
        station = await booted(cp)
        expires = in_minutes(30)
        reservation = await reserve(
            asgi_server, station=station, connector_id=2, id_tag="DRIVER", expires_at=expires
        )
    assert cp.received["ReserveNow"] == [
        {
            "connector_id": 2,
            "expiry_date": format_ocpp_datetime(expires),
            "id_tag": "DRIVER",
            "reservation_id": reservation.reservation_id,
            "parent_id_tag": "FLEET",
        }
    ]
    assert reservation.status == "accepted"
    assert reservation.connector.connector_id == 2
    assert 1 <= reservation.reservation_id <= 2**31 - 1
    command = await db(lambda: reservation.command)
    assert (command.action, command.status) == ("ReserveNow", "accepted")


async def test_it_assigns_the_first_free_connector(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-AUTO") as cp:
        station = await booted(cp, 1, 2)
        first = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(30))
        second = await reserve(asgi_server, station=station, id_tag="B", expires_at=in_minutes(30))
        with pytest.raises(ReservationError, match="no free connector"):
            await asgi_server.run(
                reservation_create, station=station, id_tag="C", expires_at=in_minutes(30)
            )
        with pytest.raises(ReservationError, match="already reserved"):
            await asgi_server.run(
                reservation_create,
                station=station,
                connector_id=1,
                id_tag="C",
                expires_at=in_minutes(30),
            )
    assert first.connector.connector_id == 1
    assert second.connector.connector_id == 2
    assert [r["connector_id"] for r in cp.received["ReserveNow"]] == [1, 2]
    assert first.reservation_id != second.reservation_id
    assert await db(Reservation.objects.filter(station=station).count) == 2


@pytest.mark.parametrize(
    ("answer", "status"),
    [("Occupied", "occupied"), ("Faulted", "faulted"), ("Unavailable", "unavailable")],
)
async def test_a_refusal_is_stored_and_frees_the_connector(asgi_server, answer, status):
    charger_id = f"RES-{answer}"
    async with connect_v16(asgi_server.ws_url, charger_id) as cp:
        station = await booted(cp, 1)
        cp.replies["ReserveNow"] = {"status": answer}
        refused = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(5))
        cp.replies.pop("ReserveNow")
        retried = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(5))
    assert refused.status == status
    command = await db(lambda: refused.command)
    assert command.response == {"status": answer}
    assert (retried.status, retried.connector.connector_id) == ("accepted", 1)


async def test_cancel_sends_cancel_reservation_and_marks_it_cancelled(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-CANCEL") as cp:
        station = await booted(cp, 1)
        reservation = await reserve(
            asgi_server, station=station, id_tag="A", expires_at=in_minutes(30)
        )
        command = await asgi_server.run(reservation_cancel, reservation=reservation)
        done = await wait_final(command.pk)
        with pytest.raises(ReservationError, match="is cancelled"):
            await asgi_server.run(reservation_cancel, reservation=reservation)
    assert cp.received["CancelReservation"] == [{"reservation_id": reservation.reservation_id}]
    assert done.status == "accepted"
    reservation = await db(Reservation.objects.get, pk=reservation.pk)
    assert reservation.status == "cancelled"
    assert reservation.cancel_command_id == command.pk


async def test_a_rejected_cancel_leaves_the_reservation(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-CANCEL-REJ") as cp:
        station = await booted(cp, 1)
        reservation = await reserve(
            asgi_server, station=station, id_tag="A", expires_at=in_minutes(30)
        )
        cp.replies["CancelReservation"] = {"status": "Rejected"}
        command = await asgi_server.run(reservation_cancel, reservation=reservation)
        done = await wait_final(command.pk)
    assert done.status == "rejected"
    assert (await db(Reservation.objects.get, pk=reservation.pk)).status == "accepted"


async def test_the_expiry_task_expires_past_reservations(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-EXPIRE") as cp:
        station = await booted(cp, 1)
        past = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(30))
        await db(Reservation.objects.filter(pk=past.pk).update, expires_at=utcnow() - timedelta(1))
        # Expired in time, not yet by the task: it no longer holds connector 1.
        current = await reserve(asgi_server, station=station, id_tag="B", expires_at=in_minutes(30))
    assert current.connector.connector_id == 1
    assert await db(expire_reservations) == 1
    assert await db(expire_reservations) == 0
    statuses = await db(
        lambda: dict(Reservation.objects.filter(station=station).values_list("id_tag", "status"))
    )
    assert statuses == {"A": "expired", "B": "accepted"}


async def test_start_transaction_with_the_reservation_marks_it_used(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-USE") as cp:
        station = await booted(cp, 1)
        reservation = await reserve(
            asgi_server, station=station, id_tag="A", expires_at=in_minutes(30)
        )
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="A",
                meter_start=100,
                timestamp=format_ocpp_datetime(utcnow()),
                reservation_id=reservation.reservation_id,
            )
        )
    reservation = await db(Reservation.objects.select_related("transaction").get, pk=reservation.pk)
    assert reservation.status == "used"
    assert reservation.transaction.transaction_id == str(started.transaction_id)
    tx = await db(Transaction.objects.get, station=station)
    assert tx.reservation_id == reservation.reservation_id


async def test_an_unknown_reservation_id_in_start_transaction_is_ignored(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-UNKNOWN") as cp:
        await booted(cp, 1)
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="A",
                meter_start=0,
                timestamp=format_ocpp_datetime(utcnow()),
                reservation_id=12345,
            )
        )
    assert started.transaction_id > 0
    assert not await db(Reservation.objects.exists)


async def test_an_offline_station_rejects_at_once(asgi_server):
    station = await db(
        ChargingStation.objects.create, charger_id="RES-OFF", registration_status="Accepted"
    )
    reservation = await asgi_server.run(
        reservation_create, station=station, connector_id=1, id_tag="A", expires_at=in_minutes(9)
    )
    command = await db(lambda: reservation.command)
    assert (reservation.status, command.status) == ("rejected", "offline")


async def test_a_callerror_is_settled_as_rejected_by_the_task(asgi_server):
    async with connect_v16(asgi_server.ws_url, "RES-ERR") as cp:
        station = await booted(cp, 1)
        cp.replies["ReserveNow"] = NotSupportedError(description="no reservations")
        reservation = await reserve(
            asgi_server, station=station, id_tag="A", expires_at=in_minutes(30)
        )
    assert reservation.status == "pending"
    await db(expire_reservations)
    assert (await db(Reservation.objects.get, pk=reservation.pk)).status == "rejected"


async def test_bad_requests_store_nothing(asgi_server):
    station = await db(
        ChargingStation.objects.create, charger_id="RES-BAD", registration_status="Accepted"
    )
    with pytest.raises(ReservationError, match="in the past"):
        await db(
            reservation_create,
            station=station,
            connector_id=1,
            id_tag="A",
            expires_at=in_minutes(-1),
        )
    with pytest.raises(ReservationError, match="invalid payload"):
        await db(
            reservation_create,
            station=station,
            connector_id=1,
            id_tag="X" * 21,  # 1.6 id tags are at most 20 characters
            expires_at=in_minutes(5),
        )
    assert not await db(Reservation.objects.exists)
