"""Commands through the API to a real charger over a real websocket."""

from __future__ import annotations

import asyncio

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call
from rest_framework.authtoken.models import Token

from tests.ocpp.charger import connect_v16
from tests.personas import grant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@sync_to_async
def operator_token() -> str:
    user = get_user_model().objects.create_user(username="live", password="a-long-password-1")
    grant(user, "chargers.all_sites", "commands.add_chargercommand", "commands.view_chargercommand")
    return Token.objects.create(user=user).key


async def http(method: str, url: str, token: str, **kwargs) -> requests.Response:
    """Call the live server from a worker thread: the test's event loop stays free."""
    headers = {"Authorization": f"Token {token}"}
    return await asyncio.to_thread(
        requests.request, method, url, headers=headers, timeout=30, **kwargs
    )


async def test_a_posted_command_with_wait_returns_the_chargers_answer(asgi_server):
    token = await operator_token()
    async with connect_v16(asgi_server.ws_url, "API-LIVE-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        response = await http(
            "POST",
            f"{asgi_server.http_url}/api/commands/?wait=10",
            token,
            json={"charger": "API-LIVE-1", "action": "Reset", "payload": {"type": "Soft"}},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert body["response"] == {"status": "Accepted"}
    assert body["sent_at"] and body["completed_at"]
    assert cp.received["Reset"] == [{"type": "Soft"}]


async def test_a_command_can_be_polled_until_it_has_an_outcome(asgi_server):
    token = await operator_token()
    async with connect_v16(asgi_server.ws_url, "API-LIVE-2") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        cp.replies["UnlockConnector"] = 0.5  # seconds before the charger answers
        sent = await http(
            "POST",
            f"{asgi_server.http_url}/api/commands/",
            token,
            json={
                "charger": "API-LIVE-2",
                "action": "UnlockConnector",
                "payload": {"connectorId": 1},
            },
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["is_final"] is False
        polled = await http(
            "GET", f"{asgi_server.http_url}/api/commands/{sent.json()['id']}/?wait=10", token
        )
    assert polled.status_code == 200
    assert polled.json()["status"] == "accepted"
    assert polled.json()["response"] == {"status": "Unlocked"}
    assert cp.received["UnlockConnector"] == [{"connector_id": 1}]


async def test_a_short_wait_returns_the_command_still_open(asgi_server):
    token = await operator_token()
    async with connect_v16(asgi_server.ws_url, "API-LIVE-3") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        cp.replies["ClearCache"] = 3  # seconds of silence, longer than the wait below
        response = await http(
            "POST",
            f"{asgi_server.http_url}/api/commands/?wait=0.2",
            token,
            json={"charger": "API-LIVE-3", "action": "ClearCache", "timeout": 10},
        )
    assert response.status_code == 201
    assert response.json()["status"] in {"pending", "sent"}
    assert response.json()["is_final"] is False
