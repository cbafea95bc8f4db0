"""Sites and operators in the live feed: a site's operator gets their stations' events only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from apps.chargers.models import ChargingStation, Site, SiteMembership
from apps.chargers.services import station_heartbeat
from apps.dashboard import consumers
from apps.dashboard.routing import LIVE_PATH
from config.asgi import routes as application
from tests.chargers.conftest import site_operator

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(user)
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, LIVE_PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def beat(station: ChargingStation) -> None:
    # A service in a worker thread, as the charger's consumer runs it.
    await sync_to_async(station_heartbeat, thread_sensitive=False)(station_id=station.pk)


async def stations_received(communicator: WebsocketCommunicator, count: int) -> list[int]:
    return [
        (await communicator.receive_json_from(timeout=5))["data"]["station"] for _ in range(count)
    ]


def make_world():
    site_a = Site.objects.create(name="Depot A")
    site_b = Site.objects.create(name="Depot B")
    a = ChargingStation.objects.create(charger_id="CP-A", site=site_a)
    b = ChargingStation.objects.create(charger_id="CP-B", site=site_b)
    unassigned = ChargingStation.objects.create(charger_id="CP-U")
    operator = site_operator("operator-a", site_a)
    root = get_user_model().objects.create_superuser("root", "r@example.com", "a-long-pw-42-x")
    return site_b, a, b, unassigned, operator, root


async def test_the_feed_delivers_the_operators_events_and_never_another_sites():
    _site_b, a, b, unassigned, operator, root = await sync_to_async(make_world)()
    mine = await open_socket(operator)
    everything = await open_socket(root)
    try:
        for station in (b, unassigned, a, b, a):
            await beat(station)
        # Events published one after the other may reach the layer in another order (Redis):
        # the superuser gets all five, in some order.
        received = await stations_received(everything, 5)
        assert sorted(received) == sorted([b.pk, unassigned.pk, a.pk, b.pk, a.pk])
        # All five are in every socket's channel now; a last event of A's goes in after them.
        # The operator gets A's two and that last one, and nothing of B or the unassigned
        # station, which would have come before it.
        await beat(a)
        assert await stations_received(everything, 1) == [a.pk]
        assert await stations_received(mine, 3) == [a.pk, a.pk, a.pk]
    finally:
        await mine.disconnect()
        await everything.disconnect()


async def test_the_feed_follows_a_new_membership_after_its_refresh(monkeypatch):
    site_b, a, b, _unassigned, operator, _root = await sync_to_async(make_world)()
    mine = await open_socket(operator)
    try:
        await beat(b)
        await beat(a)
        assert await stations_received(mine, 1) == [a.pk]
        await sync_to_async(SiteMembership.objects.create)(user=operator, site=site_b)
        # The socket reads the user's stations again once its view is older than the TTL.
        later = consumers.clock() + consumers.VISIBILITY_TTL_S + 1
        monkeypatch.setattr(consumers, "clock", lambda: later)
        await beat(b)
        assert await stations_received(mine, 1) == [b.pk]
    finally:
        await mine.disconnect()


async def test_events_of_no_station_reach_only_watchers_of_all_sites():
    from channels.layers import get_channel_layer

    from apps.core import live

    _site_b, a, _b, _unassigned, operator, root = await sync_to_async(make_world)()
    mine = await open_socket(operator)
    everything = await open_socket(root)
    layer = get_channel_layer()
    try:
        # A security event of a refused, unknown charger has no station.
        unknown = '{"kind":"security","data":{"station":null}}'
        await layer.group_send(
            live.GROUP, {"type": live.EVENT_TYPE, "station": None, "text": unknown}
        )
        await beat(a)
        assert (await everything.receive_json_from(timeout=5))["data"]["station"] is None
        assert await stations_received(mine, 1) == [a.pk]
    finally:
        await mine.disconnect()
        await everything.disconnect()
