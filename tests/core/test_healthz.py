"""/healthz reports the database, the channel layer and the broker; why one failed to staff only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def fresh_channel_layers() -> Iterator[None]:
    """Drop cached channel layers so each test builds the one its settings name."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.mark.django_db
async def test_it_reports_every_check_ok_on_the_current_configuration(async_client) -> None:
    response = await async_client.get("/healthz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check == {"ok": True} for check in body["checks"].values()), body


@pytest.mark.django_db
def test_it_answers_a_sync_client_too(client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"


async def staff(async_client) -> None:
    user = await sync_to_async(get_user_model().objects.create_user)(
        "watch", password="a-long-test-password-42", is_staff=True
    )
    await async_client.aforce_login(user)


@pytest.mark.django_db(transaction=True)
async def test_it_tells_the_public_only_which_check_failed(async_client, settings) -> None:
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = await async_client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"ok": True},
        "channel_layer": {"ok": True},
        "broker": {"ok": False},
    }
    assert b"127.0.0.1" not in response.content


@pytest.mark.django_db(transaction=True)
async def test_it_reports_an_unreachable_channel_layer(async_client, settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [UNREACHABLE_REDIS]},
        }
    }
    channel_layers.backends.clear()
    await staff(async_client)

    response = await async_client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["ok"] is False
    assert checks["channel_layer"]["error"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is True


@pytest.mark.django_db(transaction=True)
async def test_it_reports_an_unreachable_broker(async_client, settings) -> None:
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    await staff(async_client)

    response = await async_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True


def test_it_refuses_other_methods(client) -> None:
    assert client.post("/healthz").status_code == 405
