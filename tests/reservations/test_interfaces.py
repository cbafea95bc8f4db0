"""The admin and the REST API reserve and cancel through the services, live and offline."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.chargers.models import ChargingStation
from apps.chargers.services import ConnectorStatus, connector_status_update
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.reservations.models import Reservation, ReservationStatus
from tests.ocpp.charger import connect_v16
from tests.personas import grant

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def available(station: ChargingStation, *connector_ids: int) -> None:
    for connector_id in connector_ids:
        connector_status_update(
            station_id=station.pk,
            report=ConnectorStatus(connector_id=connector_id, status="Available"),
        )


def log_in(base_url: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base_url}/admin/login/", timeout=10).raise_for_status()
    session.post(
        f"{base_url}/admin/login/?next=/admin/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
    ).raise_for_status()
    assert "sessionid" in session.cookies, "login failed"
    return session


def post_form(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    page = session.get(url, timeout=10)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return session.post(url, data={**data, "csrfmiddlewaretoken": token[1]}, timeout=30)


def expiry_fields(when) -> dict[str, str]:
    return {"expires_at_0": when.strftime("%Y-%m-%d"), "expires_at_1": when.strftime("%H:%M:%S")}


class TestAdmin:
    @pytest.mark.django_db(transaction=True)
    async def test_the_add_form_reserves_on_a_live_charger(self, asgi_server):
        await sync_to_async(get_user_model().objects.create_superuser)(
            "boss", "boss@example.com", PASSWORD
        )
        async with connect_v16(asgi_server.ws_url, "RES-ADMIN-LIVE") as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            station = await sync_to_async(ChargingStation.objects.get)(charger_id=cp.id)
            session = await asyncio.to_thread(log_in, asgi_server.http_url, "boss")
            response = await asyncio.to_thread(
                post_form,
                session,
                f"{asgi_server.http_url}/admin/reservations/reservation/add/",
                {
                    "station": str(station.pk),
                    "connector_id": "",
                    "id_tag": "ADMIN-TAG",
                    "parent_id_tag": "",
                    **expiry_fields(utcnow() + timedelta(hours=1)),
                },
            )
        assert response.status_code == 200, response.text[:2000]
        assert "/admin/reservations/reservation/" in response.url
        assert "is accepted" in response.text
        reservation = await sync_to_async(
            Reservation.objects.select_related("connector", "requested_by").get
        )()
        assert (reservation.status, reservation.connector.connector_id) == ("accepted", 1)
        assert cp.received["ReserveNow"][0]["id_tag"] == "ADMIN-TAG"
        assert reservation.requested_by.username == "boss"

    @pytest.mark.django_db
    def test_the_add_form_shows_why_nothing_was_reserved(self, admin_client):
        station = ChargingStation.objects.create(charger_id="RES-ADMIN-FULL")
        response = admin_client.post(
            "/admin/reservations/reservation/add/",
            {
                "station": str(station.pk),
                "id_tag": "T",
                **expiry_fields(utcnow() + timedelta(hours=1)),
            },
        )
        assert response.status_code == 200
        assert "has no free connector" in response.content.decode()
        assert not Reservation.objects.exists()

    @pytest.mark.django_db
    def test_an_offline_station_gives_a_rejected_reservation(self, admin_client):
        station = ChargingStation.objects.create(charger_id="RES-ADMIN-OFF")
        available(station, 1)
        response = admin_client.post(
            "/admin/reservations/reservation/add/",
            {
                "station": str(station.pk),
                "id_tag": "T",
                **expiry_fields(utcnow() + timedelta(hours=1)),
            },
            follow=True,
        )
        reservation = Reservation.objects.get()
        assert reservation.status == "rejected"
        assert reservation.command.status == "offline"
        assert "not connected" in response.content.decode()

    @pytest.mark.django_db
    def test_the_cancel_action_goes_through_the_service(self, admin_client):
        station = ChargingStation.objects.create(charger_id="RES-ADMIN-CXL")
        reservation = Reservation.objects.create(
            station=station,
            reservation_id=77,
            id_tag="T",
            expires_at=utcnow() + timedelta(hours=1),
            status=ReservationStatus.ACCEPTED,
        )
        used = Reservation.objects.create(
            station=station,
            reservation_id=78,
            id_tag="T",
            expires_at=utcnow() + timedelta(hours=1),
            status=ReservationStatus.USED,
        )
        response = admin_client.post(
            "/admin/reservations/reservation/",
            {"action": "cancel_selected", "_selected_action": [reservation.pk, used.pk]},
            follow=True,
        )
        text = response.content.decode().lower()
        assert "reservation 77: res-admin-cxl is offline" in text
        assert "reservation 78 is used" in text
        reservation.refresh_from_db()
        assert reservation.cancel_command.action == "CancelReservation"
        assert reservation.cancel_command.status == "offline"
        assert reservation.status == "accepted"

    @pytest.mark.django_db
    def test_rows_cannot_be_edited_by_hand(self, admin_client):
        station = ChargingStation.objects.create(charger_id="RES-ADMIN-RO")
        reservation = Reservation.objects.create(
            station=station, reservation_id=5, id_tag="T", expires_at=utcnow()
        )
        page = admin_client.get(f"/admin/reservations/reservation/{reservation.pk}/change/")
        assert page.status_code == 200
        assert 'name="id_tag"' not in page.content.decode()


class TestApi:
    @pytest.mark.django_db(transaction=True)
    async def test_reserve_and_cancel_on_a_live_charger(self, asgi_server):
        @sync_to_async
        def operator_token() -> str:
            user = get_user_model().objects.create_user(username="api", password=PASSWORD)
            grant(
                user,
                "chargers.all_sites",
                "reservations.add_reservation",
                "reservations.view_reservation",
                "reservations.change_reservation",
            )
            return Token.objects.create(user=user).key

        token = await operator_token()
        base = f"{asgi_server.http_url}/api/reservations/"

        async def http(method: str, url: str, **kwargs) -> requests.Response:
            headers = {"Authorization": f"Token {token}"}
            return await asyncio.to_thread(
                requests.request, method, url, headers=headers, timeout=30, **kwargs
            )

        async with connect_v16(asgi_server.ws_url, "RES-API-LIVE") as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            await cp.call(
                call.StatusNotification(connector_id=3, error_code="NoError", status="Available")
            )
            expires = utcnow() + timedelta(hours=2)
            created = await http(
                "POST",
                base,
                json={
                    "charger": "RES-API-LIVE",
                    "id_tag": "APITAG",
                    "expires_at": format_ocpp_datetime(expires),
                },
            )
            assert created.status_code == 201, created.text
            body = created.json()
            assert (body["charger"], body["connector_id"], body["status"]) == (
                "RES-API-LIVE",
                3,
                "pending",
            )
            reservation = await sync_to_async(Reservation.objects.get)(pk=body["id"])
            await _until(lambda: reservation_status(reservation.pk) == "accepted")
            cancelled = await http("POST", f"{base}{body['id']}/cancel/")
            assert cancelled.status_code == 202, cancelled.text
            await _until(lambda: reservation_status(reservation.pk) == "cancelled")
            listed = await http("GET", base, params={"station": "RES-API-LIVE"})
        assert cp.received["ReserveNow"][0]["reservation_id"] == body["reservation_id"]
        assert cp.received["CancelReservation"] == [{"reservation_id": body["reservation_id"]}]
        rows = listed.json()["results"]
        assert [(r["id"], r["status"]) for r in rows] == [(body["id"], "cancelled")]

    @pytest.mark.django_db
    def test_errors_are_400_and_permissions_hold(self, django_user_model):
        station = ChargingStation.objects.create(charger_id="RES-API-OFF")
        user = django_user_model.objects.create_user(username="viewer", password=PASSWORD)
        grant(user, "chargers.all_sites", "reservations.view_reservation")
        client = APIClient()
        client.force_authenticate(user)
        payload = {
            "charger": "RES-API-OFF",
            "id_tag": "T",
            "expires_at": format_ocpp_datetime(utcnow() + timedelta(hours=1)),
        }
        assert client.post("/api/reservations/", payload, format="json").status_code == 403
        grant(user, "reservations.add_reservation")
        user = django_user_model.objects.get(pk=user.pk)  # drop the permission cache
        client.force_authenticate(user)
        refused = client.post("/api/reservations/", payload, format="json")
        assert refused.status_code == 400
        assert "no free connector" in refused.json()["detail"]
        available(station, 1)
        created = client.post("/api/reservations/", payload, format="json")
        assert created.status_code == 201
        assert created.json()["status"] == "rejected"  # the station is offline
        cancel = client.post(f"/api/reservations/{created.json()['id']}/cancel/")
        assert cancel.status_code == 403  # cancelling needs change_reservation


def reservation_status(pk: int) -> str:
    return Reservation.objects.get(pk=pk).status


async def _until(predicate, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await sync_to_async(predicate)():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
