"""Operator logins: the admin and the API token take a few wrong passwords, then wait.

Locked out is the pair user name and address: a stranger's failures cannot lock the real
operator out from elsewhere.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from apps.core.logins import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"
ATTACKER = "198.51.100.66"
OPERATOR = "203.0.113.10"


def make_boss():
    return get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)


@pytest.fixture
def boss():
    return make_boss()


def admin_login(client, password: str, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": "boss", "password": password}, **extra
    )


@pytest.mark.django_db(transaction=True)  # the ASGI handler runs the view in another thread
async def test_the_admin_login_locks_a_guessing_address_out(async_client, settings):
    await sync_to_async(make_boss)()
    settings.AXES_FAILURE_LIMIT = 3
    answers = [
        (
            await async_client.post(
                "/admin/login/?next=/admin/", {"username": "boss", "password": "guess"}
            )
        ).status_code
        for _ in range(3)
    ]
    assert answers == [200, 200, 429]  # the login form with its error, then the lockout

    # Even the right password is refused now, with the reason and when to come back.
    response = await async_client.post(
        "/admin/login/?next=/admin/", {"username": "boss", "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert response["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    assert "sessionid" not in response.cookies


def test_the_admin_login_lockout_spares_the_operator_elsewhere(boss, settings):
    settings.AXES_FAILURE_LIMIT = 3
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(4):
        admin_login(attacker, "guess")
    assert admin_login(attacker, PASSWORD).status_code == 429

    response = admin_login(Client(REMOTE_ADDR=OPERATOR), PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def token_request(client, password: str):
    return client.post(
        "/api/auth/token/", {"username": "boss", "password": password}, format="json"
    )


def test_the_token_endpoint_locks_a_guessing_address_out(boss, settings):
    settings.AXES_FAILURE_LIMIT = 3
    attacker = APIClient(REMOTE_ADDR=ATTACKER)
    answers = [token_request(attacker, "guess").status_code for _ in range(3)]
    assert answers == [400, 400, 429]

    response = token_request(attacker, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed logins" in response.json()["detail"]
    assert "token" not in response.json()
    assert token_request(APIClient(REMOTE_ADDR=OPERATOR), PASSWORD).status_code == 200


def test_the_admin_and_the_token_endpoint_share_one_count(boss, settings):
    settings.AXES_FAILURE_LIMIT = 4
    attacker = APIClient(REMOTE_ADDR=ATTACKER)
    for _ in range(2):
        admin_login(attacker, "guess")
        token_request(attacker, "guess")

    assert token_request(attacker, PASSWORD).status_code == 429
    assert admin_login(Client(REMOTE_ADDR=ATTACKER), PASSWORD).status_code == 429


def test_the_token_endpoint_takes_a_limited_rate_of_requests(boss, settings):
    settings.API_TOKEN_RATE = "3/minute"
    client = APIClient(REMOTE_ADDR="198.51.100.77")
    for _ in range(3):
        assert token_request(client, PASSWORD).status_code == 200

    response = token_request(client, PASSWORD)

    assert response.status_code == 429
    assert "throttled" in response.json()["detail"].lower()
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", "", "198.51.100.1"),
        # Not from a trusted proxy: the header is the client's own invention.
        ("198.51.100.1", "203.0.113.5", "198.51.100.1"),
        # From the trusted proxy: the address it saw itself (its header's last entry).
        ("127.0.0.1", "10.9.9.9, 203.0.113.5", "203.0.113.5"),
        # Two trusted proxies in a row: the last entry neither of them wrote.
        ("127.0.0.1", "10.9.9.9, 203.0.113.5, 127.0.0.2", "203.0.113.5"),
    ],
    ids=["direct", "untrusted header", "trusted proxy", "chain of trusted proxies"],
)
def test_the_login_address_believes_only_a_trusted_proxy(settings, peer, forwarded, expected):
    settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1", "127.0.0.2"]
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=peer, **extra)
    assert client_ip(request) == expected
