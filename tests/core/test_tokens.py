"""API tokens expire API_TOKEN_TTL days after they were issued and can be revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core.timeutil import utcnow

pytestmark = pytest.mark.django_db

VIEW = "chargers.view_chargingstation"


def obtain(user) -> dict:
    response = APIClient().post(
        "/api/auth/token/",
        {"username": user.username, "password": "a-long-test-password"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def age(key: str, days: float) -> None:
    Token.objects.filter(key=key).update(created=utcnow() - timedelta(days=days))


def test_a_token_says_when_it_expires(make_user, settings):
    settings.API_TOKEN_TTL = 7
    before = utcnow()
    answer = obtain(make_user(VIEW))
    expires = Token.objects.get(key=answer["token"]).created + timedelta(days=7)
    assert answer["expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{expires.microsecond // 1000:03d}Z"
    )
    assert expires >= before + timedelta(days=7)


def test_an_expired_token_is_refused_with_the_reason(make_user, settings):
    settings.API_TOKEN_TTL = 7
    key = obtain(make_user(VIEW))["token"]
    assert with_token(key).get("/api/chargers/").status_code == 200
    age(key, 7.01)

    response = with_token(key).get("/api/chargers/")

    assert response.status_code == 401
    assert "Token expired" in response.json()["detail"]
    assert "/api/auth/token/" in response.json()["detail"]


def test_asking_again_replaces_an_expired_token(make_user, settings):
    settings.API_TOKEN_TTL = 7
    user = make_user(VIEW)
    old = obtain(user)["token"]
    assert obtain(user)["token"] == old  # still valid: the same token
    age(old, 8)

    new = obtain(user)["token"]

    assert new != old
    assert not Token.objects.filter(key=old).exists()
    assert with_token(new).get("/api/chargers/").status_code == 200


def test_a_holder_revokes_its_token(make_user):
    key = obtain(make_user(VIEW))["token"]

    response = with_token(key).post("/api/auth/token/revoke/")

    assert response.status_code == 204
    assert not Token.objects.filter(key=key).exists()
    assert with_token(key).get("/api/chargers/").status_code == 401


def test_revoking_needs_a_token():
    assert APIClient().post("/api/auth/token/revoke/").status_code == 401


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("API_TOKEN_TTL", 0, "core.E001"),
        ("API_TOKEN_RATE", "lots", "core.E002"),
        ("LOGIN_MAX_FAILURES", 0, "core.E003"),
        ("OCPP_HANDSHAKE_TIMEOUT", 0, "core.E004"),
        ("OCPP_HANDSHAKE_TIMEOUT", float("nan"), "core.E004"),
        ("OCPP_MAX_CONNECTIONS_PER_IP", -1, "core.E005"),
    ],
)
def test_the_checks_refuse_settings_without_limits(settings, name, value, check_id):
    setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=check_id):
        call_command("check")
