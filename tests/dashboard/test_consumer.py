"""The dashboard's websocket: staff sessions only; it forwards the published events."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_heartbeat
from apps.core import live
from apps.dashboard.routing import LIVE_PATH, LivePathRouter
from apps.transactions.samples import SampledValue
from apps.transactions.services import meter_values_record
from config.asgi import routes as application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(
    user=None, origin: bytes | None = b"http://testserver", host: bytes = b"testserver"
) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"host", host)]
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, LIVE_PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def receive(communicator: WebsocketCommunicator, kind: str, station: int) -> dict:
    """Return the next event of `kind` about `station` (others' events may pass by)."""
    while True:
        event = await communicator.receive_json_from(timeout=5)
        if event["kind"] == kind and event["data"].get("station") == station:
            return event


def make_user(**flags):
    return get_user_model().objects.create_user(
        flags.pop("username", "someone"), password="a-long-test-password-42", **flags
    )


async def test_it_refuses_a_visitor_without_a_session():
    _communicator, connected = await open_socket()
    assert not connected
    assert live.watchers() == 0


@pytest.mark.parametrize(
    "flags",
    [{"is_staff": False}, {"is_staff": True}],  # staff without permission to see stations
    ids=["not staff", "staff without view permission"],
)
async def test_it_refuses_users_who_may_not_watch(flags):
    user = await sync_to_async(make_user)(**flags)
    _communicator, connected = await open_socket(user)
    assert not connected


async def test_it_forwards_events_to_a_staff_member():
    user = await sync_to_async(get_user_model().objects.create_superuser)(
        "boss", "boss@example.com", "a-long-test-password-42"
    )
    station = await sync_to_async(ChargingStation.objects.create)(charger_id="CP-WS")
    communicator, connected = await open_socket(user)
    assert connected
    assert live.watchers() == 1
    try:
        # A service in a worker thread, as the charger's consumer runs it.
        await sync_to_async(station_heartbeat, thread_sensitive=False)(station_id=station.pk)
        event = await receive(communicator, "heartbeat", station.pk)
        assert set(event["data"]) == {"station", "at"}

        at = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
        await sync_to_async(meter_values_record, thread_sensitive=False)(
            station_id=station.pk,
            connector_id=1,
            transaction_id=None,
            samples=[
                SampledValue(timestamp=at, value="2.5", unit="kWh"),
                SampledValue(timestamp=at, value="3700", measurand="Power.Active.Import"),
            ],
        )
        event = await receive(communicator, "meter", station.pk)
        assert event["data"]["power_w"] == 3700.0
        assert event["data"]["register_wh"] == 2500.0
        assert "samples" not in event["data"]

        await communicator.send_to(text_data="ping")
        while (await communicator.receive_json_from(timeout=5))["kind"] != "pong":
            pass
    finally:
        await communicator.disconnect()
    assert live.watchers() == 0


async def test_it_forwards_the_published_text_unchanged():
    user = await sync_to_async(get_user_model().objects.create_superuser)(
        "boss", "boss@example.com", "a-long-test-password-42"
    )
    communicator, connected = await open_socket(user)
    assert connected
    # Not what a publisher writes: spacing, key order and samples it would have summarised.
    text = '{"data": {"samples": [{"value": "9"}], "station": 1},  "kind": "meter"}'
    try:
        layer = get_channel_layer()
        await layer.group_send(live.GROUP, {"type": live.EVENT_TYPE, "kind": "meter", "text": text})
        assert await communicator.receive_from(timeout=5) == text
        await layer.group_send(live.GROUP, {"type": live.EVENT_TYPE, "kind": "meter"})  # no text
        await layer.group_send(live.GROUP, {"type": live.EVENT_TYPE, "text": '{"kind":"x"}'})
        assert await communicator.receive_from(timeout=5) == '{"kind":"x"}'  # still open
    finally:
        await communicator.disconnect()


async def test_an_event_is_serialised_once_on_its_way_to_the_browser(monkeypatch):
    serialised: list[object] = []
    real = orjson.dumps

    def counting(obj, *args, **kwargs):
        if isinstance(obj, dict) and "kind" in obj:
            serialised.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(orjson, "dumps", counting)
    user = await sync_to_async(get_user_model().objects.create_superuser)(
        "boss", "boss@example.com", "a-long-test-password-42"
    )
    station = await sync_to_async(ChargingStation.objects.create)(charger_id="CP-ONCE")
    communicator, connected = await open_socket(user)
    assert connected
    try:
        # A reading: the figures are made by its publisher, not by the socket on the way.
        await sync_to_async(meter_values_record, thread_sensitive=False)(
            station_id=station.pk,
            connector_id=1,
            transaction_id="77",
            samples=[SampledValue(timestamp=datetime(2025, 3, 1, tzinfo=UTC), value="1200")],
        )
        text = await communicator.receive_from(timeout=5)
    finally:
        await communicator.disconnect()
    assert len(serialised) == 1
    assert text == real(serialised[0], default=str).decode()
    assert orjson.loads(text) == {
        "kind": "meter",
        "data": {
            "station": station.pk,
            "connector": 1,
            "transaction_id": "77",
            "power_w": None,
            "register_wh": 1200.0,
        },
    }


async def test_other_paths_still_go_to_the_charger_application():
    seen: list[str] = []

    async def chargers(scope, receive, send):
        seen.append(scope["path"])

    router = LivePathRouter(chargers)
    for path in ("/ocpp/CP-1", "/CP-2", "/admin/live/CP-3", "/admin/live"):
        await router({"type": "websocket", "path": path}, None, None)
    assert seen == ["/ocpp/CP-1", "/CP-2", "/admin/live/CP-3", "/admin/live"]


async def superuser():
    return await sync_to_async(get_user_model().objects.create_superuser)(
        "boss", "boss@example.com", "a-long-test-password-42"
    )


@pytest.mark.parametrize(
    "origin",
    [b"https://evil.example", b"http://testserver.evil.example", b"null", None],
    ids=["another site", "a look-alike", "opaque origin", "no origin"],
)
async def test_it_refuses_a_page_of_another_site_even_with_any_host_allowed(settings, origin):
    settings.ALLOWED_HOSTS = ["*"]
    # A watcher's browser sends its session cookie whichever page opens the socket.
    _communicator, connected = await open_socket(await superuser(), origin=origin)
    assert not connected
    assert live.watchers() == 0


async def test_it_accepts_the_same_host_and_port(settings):
    settings.ALLOWED_HOSTS = ["*"]
    communicator, connected = await open_socket(
        await superuser(), origin=b"https://csms.local:8443", host=b"csms.local:8443"
    )
    assert connected
    await communicator.disconnect()


async def test_it_accepts_a_trusted_origin_of_another_name(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://csms.example.com", "https://*.ops.example.com"]
    user = await superuser()
    for origin in (b"https://csms.example.com", b"https://desk.ops.example.com"):
        communicator, connected = await open_socket(user, origin=origin, host=b"10.0.0.5:8000")
        assert connected, origin
        await communicator.disconnect()
    _communicator, connected = await open_socket(
        user, origin=b"http://csms.example.com", host=b"10.0.0.5:8000"
    )
    assert not connected  # the scheme is part of the origin
