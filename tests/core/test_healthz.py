"""/healthz reports the database, the channel layer and the broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channels.layers import channel_layers

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


@pytest.mark.django_db
async def test_it_reports_an_unreachable_channel_layer(async_client, settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [UNREACHABLE_REDIS]},
        }
    }
    channel_layers.backends.clear()

    response = await async_client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["ok"] is False
    assert checks["channel_layer"]["error"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is True


@pytest.mark.django_db
async def test_it_reports_an_unreachable_broker(async_client, settings) -> None:
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

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
