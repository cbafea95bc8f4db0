"""An operator's Reset from the admin reaches a real charger over a real socket."""

from __future__ import annotations

import asyncio
import re

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from tests.ocpp.charger import connect_v16

USERNAME, PASSWORD = "operator", "a-long-test-password-42"


def log_in(base_url: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base_url}/admin/login/", timeout=10).raise_for_status()
    response = session.post(
        f"{base_url}/admin/login/?next=/admin/",
        data={
            "username": USERNAME,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    response.raise_for_status()
    assert "sessionid" in session.cookies, "login failed"
    return session


def post_form(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    page = session.get(url, timeout=10)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return session.post(url, data={**data, "csrfmiddlewaretoken": token[1]}, timeout=30)


@pytest.mark.django_db(transaction=True)
async def test_a_reset_sent_from_the_admin_is_accepted_by_the_charger(asgi_server, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    await sync_to_async(get_user_model().objects.create_superuser)(
        USERNAME, "operator@example.com", PASSWORD
    )
    async with connect_v16(asgi_server.ws_url, "CP-ADMIN-LIVE") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-ADMIN-LIVE")
        base = asgi_server.http_url
        session = await asyncio.to_thread(log_in, base)
        response = await asyncio.to_thread(
            post_form,
            session,
            f"{base}/admin/chargers/chargingstation/{station.pk}/command/reset/",
            {"hard": "0", "_send": "Send"},
        )

    assert response.history and response.history[0].status_code == 302
    assert f"/admin/chargers/chargingstation/{station.pk}/change/" in response.url
    assert "Reset accepted by station CP-ADMIN-LIVE" in response.text
    assert cp.received["Reset"] == [{"type": "Soft"}]
    command = await sync_to_async(ChargerCommand.objects.select_related("requested_by").get)(
        station=station, action="Reset"
    )
    assert command.status == CommandStatus.ACCEPTED
    assert command.response == {"status": "Accepted"}
    assert (command.source, command.requested_by.username) == ("admin", USERNAME)
