"""A bulk ChangeAvailability reaches three real chargers; the results page tells each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from tests.commands.test_station_page_live import PASSWORD, USERNAME, log_in, post_form
from tests.ocpp.charger import connect_v16

NAMES = ("CP-BULK-A", "CP-BULK-B", "CP-BULK-C")


def outcomes(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-station="(CP-BULK-\w)" data-status="([a-z]+)"', page)


def settled(session: requests.Session, response: requests.Response) -> requests.Response:
    """Reload the results page as its refresh would, until no station is awaited (10 s)."""
    deadline = time.monotonic() + 10
    while 'http-equiv="refresh"' in response.text and time.monotonic() < deadline:
        response = session.get(response.url, timeout=10)
    return response


@pytest.mark.django_db(transaction=True)
async def test_a_bulk_change_availability_shows_three_outcomes(asgi_server, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    await sync_to_async(get_user_model().objects.create_superuser)(
        USERNAME, "operator@example.com", PASSWORD
    )
    async with contextlib.AsyncExitStack() as stack:
        chargers = [
            await stack.enter_async_context(connect_v16(asgi_server.ws_url, n)) for n in NAMES
        ]
        chargers[1].replies["ChangeAvailability"] = {"status": "Rejected"}
        for cp in chargers:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        pks = await sync_to_async(
            lambda: [
                str(pk)
                for pk in ChargingStation.objects.filter(charger_id__in=NAMES).values_list(
                    "pk", flat=True
                )
            ]
        )()
        base = asgi_server.http_url
        session = await asyncio.to_thread(log_in, base)
        response = await asyncio.to_thread(
            post_form,
            session,
            f"{base}/admin/chargers/chargingstation/",
            {
                "action": "send_command",
                helpers.ACTION_CHECKBOX_NAME: pks,
                "operation": "change_availability",
                "op-connector_id": "1",
                "op-operative": "0",
                "_send": "Send",
            },
        )
        response = await asyncio.to_thread(settled, session, response)
        for cp in chargers:
            assert cp.received["ChangeAvailability"] == [{"connector_id": 1, "type": "Inoperative"}]

    assert "/bulk-results/?commands=" in response.url
    assert outcomes(response.text) == [
        ("CP-BULK-A", "accepted"),
        ("CP-BULK-B", "rejected"),
        ("CP-BULK-C", "accepted"),
    ]
