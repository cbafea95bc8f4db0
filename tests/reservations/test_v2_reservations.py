"""Reservations with OCPP 2.0.1 and 2.1 stations, over a real websocket.

ReserveNow / CancelReservation in their 2.x shape, the station's ReservationStatusUpdate,
and a TransactionEvent that starts a session on a reservation.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.reservations.models import Reservation
from apps.reservations.services import (
    ReservationError,
    reservation_cancel,
    reservation_create,
)
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"]),
]


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


def messages(version: str):
    """The `ocpp` library's call module of a version."""
    return importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")


def in_minutes(minutes: int):
    return utcnow() + timedelta(minutes=minutes)


async def booted(cp, version: str, *available: int) -> ChargingStation:
    """Boot the station, report the `available` EVSEs Available; return its station row."""
    call = messages(version)
    await cp.call(
        call.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )
    for evse_id in available:
        await cp.call(
            call.StatusNotification(
                timestamp=format_ocpp_datetime(utcnow()),
                connector_status="Available",
                evse_id=evse_id,
                connector_id=1,
            )
        )
    return await db(ChargingStation.objects.get, charger_id=cp.id)


async def reserve(server, **kwargs) -> Reservation:
    """Reserve through the service inside the server (as the admin and API do); await it."""
    reservation = await server.run(reservation_create, **kwargs)
    await wait_final(reservation.command_id)
    return await db(Reservation.objects.select_related("connector").get, pk=reservation.pk)


async def test_it_reserves_the_first_free_evse_with_a_2x_reserve_now(asgi_server, version):
    fleet = await db(IdTag.objects.create, id_tag="FLEET")
    await db(IdTag.objects.create, id_tag="DRIVER", parent=fleet, token_type="ISO15693")
    charger_id = f"RES2-AUTO-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version, 1, 2)
        expires = in_minutes(30)
        first = await reserve(asgi_server, station=station, id_tag="DRIVER", expires_at=expires)
        second = await reserve(asgi_server, station=station, id_tag="GUEST", expires_at=expires)
        with pytest.raises(ReservationError, match="no free connector"):
            await asgi_server.run(
                reservation_create, station=station, id_tag="LATE", expires_at=expires
            )
    assert cp.received["ReserveNow"] == [
        {
            "id": first.reservation_id,
            "expiry_date_time": format_ocpp_datetime(expires),
            "id_token": {"id_token": "DRIVER", "type": "ISO15693"},
            "evse_id": 1,
            "group_id_token": {"id_token": "FLEET", "type": "Central"},
        },
        {
            "id": second.reservation_id,
            "expiry_date_time": format_ocpp_datetime(expires),
            # A tag we do not know is sent as an RFID card.
            "id_token": {"id_token": "GUEST", "type": "ISO14443"},
            "evse_id": 2,
        },
    ]
    assert (first.status, first.connector.connector_id, first.parent_id_tag) == (
        "accepted",
        1,
        "FLEET",
    )
    assert (second.status, second.connector.connector_id) == ("accepted", 2)
    command = await db(lambda: first.command)
    assert (command.action, command.status, command.response) == (
        "ReserveNow",
        "accepted",
        {"status": "Accepted"},
    )


async def test_connector_zero_reserves_any_evse(asgi_server, version):
    charger_id = f"RES2-ANY-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version)
        reservation = await reserve(
            asgi_server, station=station, connector_id=0, id_tag="A", expires_at=in_minutes(9)
        )
    [received] = cp.received["ReserveNow"]
    assert "evse_id" not in received
    assert received["id"] == reservation.reservation_id
    assert reservation.status == "accepted"


async def test_each_refusal_is_stored_and_frees_the_evse(asgi_server, version):
    charger_id = f"RES2-REFUSE-{version}"
    refused = {}
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version, 1)
        for answer in ("Occupied", "Faulted", "Unavailable", "Rejected"):
            cp.replies["ReserveNow"] = {"status": answer}
            refused[answer] = await reserve(
                asgi_server, station=station, id_tag="A", expires_at=in_minutes(5)
            )
        cp.replies.pop("ReserveNow")
        taken = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(5))
    assert {answer: r.status for answer, r in refused.items()} == {
        "Occupied": "occupied",
        "Faulted": "faulted",
        "Unavailable": "unavailable",
        "Rejected": "rejected",
    }
    assert all(r.connector.connector_id == 1 for r in refused.values())
    occupied = await db(lambda: refused["Occupied"].command)
    assert (occupied.status, occupied.response) == ("rejected", {"status": "Occupied"})
    assert (taken.status, taken.connector.connector_id) == ("accepted", 1)


async def test_cancel_sends_the_2x_cancel_reservation(asgi_server, version):
    charger_id = f"RES2-CANCEL-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version, 1, 2)
        kept = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(30))
        gone = await reserve(asgi_server, station=station, id_tag="B", expires_at=in_minutes(30))
        cp.replies["CancelReservation"] = {"status": "Rejected"}
        refused = await wait_final((await asgi_server.run(reservation_cancel, reservation=kept)).pk)
        cp.replies.pop("CancelReservation")
        command = await asgi_server.run(reservation_cancel, reservation=gone)
        done = await wait_final(command.pk)
    assert cp.received["CancelReservation"] == [
        {"reservation_id": kept.reservation_id},
        {"reservation_id": gone.reservation_id},
    ]
    assert (refused.status, done.status) == ("rejected", "accepted")
    statuses = await db(
        lambda: dict(Reservation.objects.filter(station=station).values_list("id_tag", "status"))
    )
    assert statuses == {"A": "accepted", "B": "cancelled"}


async def test_reservation_status_update_expires_or_removes_it(asgi_server, version):
    call = messages(version)
    charger_id = f"RES2-UPDATE-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version, 1, 2, 3)
        expired = await reserve(asgi_server, station=station, id_tag="A", expires_at=in_minutes(9))
        removed = await reserve(asgi_server, station=station, id_tag="B", expires_at=in_minutes(9))
        used = await reserve(asgi_server, station=station, id_tag="C", expires_at=in_minutes(9))
        await db(Reservation.objects.filter(pk=used.pk).update, status="used")
        for reservation, status in ((expired, "Expired"), (removed, "Removed"), (used, "Expired")):
            answer = await cp.call(
                call.ReservationStatusUpdate(
                    reservation_id=reservation.reservation_id, reservation_update_status=status
                )
            )
            assert answer is not None
        # An id we never issued is answered all the same, and changes nothing.
        await cp.call(
            call.ReservationStatusUpdate(reservation_id=4242, reservation_update_status="Removed")
        )
        statuses = await db(
            lambda: dict(
                Reservation.objects.filter(station=station).values_list("id_tag", "status")
            )
        )
        # Ended reservations no longer hold their EVSE.
        again = await reserve(asgi_server, station=station, id_tag="D", expires_at=in_minutes(9))
    assert statuses == {"A": "expired", "B": "cancelled", "C": "used"}
    assert again.connector.connector_id == 1


async def test_a_transaction_event_with_the_reservation_marks_it_used(asgi_server, version):
    call = messages(version)
    charger_id = f"RES2-USE-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        station = await booted(cp, version, 1)
        reservation = await reserve(
            asgi_server, station=station, id_tag="DRIVER", expires_at=in_minutes(30)
        )
        started = call.TransactionEvent(
            event_type="Started",
            timestamp=format_ocpp_datetime(utcnow()),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": "TX-RES"},
            reservation_id=reservation.reservation_id,
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": "DRIVER", "type": "ISO14443"},
        )
        await cp.call(started)
        await cp.call(started)  # a replay after a reconnect changes nothing
    reservation = await db(Reservation.objects.select_related("transaction").get, pk=reservation.pk)
    assert reservation.status == "used"
    assert reservation.transaction.transaction_id == "TX-RES"
    tx = await db(Transaction.objects.get, station=station)
    assert tx.reservation_id == reservation.reservation_id
    assert tx.id_tag == "DRIVER"


async def test_an_offline_2x_station_rejects_at_once(asgi_server, version):
    station = await db(
        ChargingStation.objects.create,
        charger_id=f"RES2-OFF-{version}",
        registration_status="Accepted",
        ocpp_version=version,
    )
    reservation = await asgi_server.run(
        reservation_create, station=station, connector_id=2, id_tag="A", expires_at=in_minutes(9)
    )
    command = await db(lambda: reservation.command)
    assert (reservation.status, command.status) == ("rejected", "offline")
    assert command.payload["id"] == reservation.reservation_id
    assert command.payload["evseId"] == 2
    assert command.payload["idToken"] == {"idToken": "A", "type": "ISO14443"}
