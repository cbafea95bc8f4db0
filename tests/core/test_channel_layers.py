"""The Redis channel layer waits out an outage instead of ending every consumer."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import ChannelFull
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.core import channel_layers


async def test_receive_waits_for_redis_and_then_says_so(monkeypatch):
    layer = channel_layers.ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    calls = {"receive": 0, "group_add": []}

    async def flaky_receive(self, channel):
        calls["receive"] += 1
        if calls["receive"] == 1:
            raise RedisConnectionError("Redis is away")
        return {"type": "ocpp.command", "command_id": 1}

    async def remember_group_add(self, group, channel):
        calls["group_add"].append((group, channel))

    monkeypatch.setattr(channel_layers.RedisChannelLayer, "receive", flaky_receive)
    monkeypatch.setattr(channel_layers.RedisChannelLayer, "group_add", remember_group_add)
    real_sleep = asyncio.sleep
    monkeypatch.setattr(channel_layers.asyncio, "sleep", lambda _s: real_sleep(0))
    await layer.group_add("charger.7", "specific.abc!1")
    calls["group_add"].clear()

    first = await layer.receive("specific.abc!1")
    assert first == {"type": channel_layers.RECOVERED}  # Redis answered again: recovered
    assert calls["group_add"] == [("charger.7", "specific.abc!1")]  # groups joined again
    assert await layer.receive("specific.abc!1") == {"type": "ocpp.command", "command_id": 1}


async def test_a_cancelled_receive_ends_though_redis_reports_the_cancel_as_an_outage(
    monkeypatch,
):
    layer = channel_layers.ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])

    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:  # as redis-py may, mid-request
            raise RedisTimeoutError("Timeout reading from 127.0.0.1:6379") from None

    monkeypatch.setattr(channel_layers.RedisChannelLayer, "receive", receive)
    receiving = asyncio.ensure_future(layer.receive("specific.abc!1"))
    await asyncio.sleep(0)
    receiving.cancel()  # the consumer ends
    done, _ = await asyncio.wait({receiving}, timeout=2)
    assert receiving in done and receiving.cancelled()


@pytest.mark.parametrize("discard", [True, False])
async def test_only_current_memberships_are_joined_again(monkeypatch, discard):
    layer = channel_layers.ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])

    async def nothing(self, *args):
        return None

    monkeypatch.setattr(channel_layers.RedisChannelLayer, "group_add", nothing)
    monkeypatch.setattr(channel_layers.RedisChannelLayer, "group_discard", nothing)
    await layer.group_add("g", "c")
    if discard:
        await layer.group_discard("g", "c")
    assert layer._memberships == ({} if discard else {"c": {"g"}})


async def test_the_in_memory_layer_sweeps_for_expired_entries_once_a_second(monkeypatch):
    layer = channel_layers.InMemoryChannelLayer()
    sweeps = []
    real_sweep = channel_layers.layers.InMemoryChannelLayer._clean_expired
    monkeypatch.setattr(
        channel_layers.layers.InMemoryChannelLayer,
        "_clean_expired",
        lambda self: sweeps.append(1) or real_sweep(self),
    )
    for n in range(100):  # a hundred connections opening: one sweep, not a hundred
        channel = await layer.new_channel()
        await layer.group_add(f"charger.{n}", channel)
        await layer.group_send(f"charger.{n}", {"type": "ocpp.command", "command_id": n})
        assert await layer.receive(channel) == {"type": "ocpp.command", "command_id": n}
    assert len(sweeps) == 1
    layer._swept_at -= layer.CLEAN_EVERY_S  # as if a second had passed
    await layer.group_send("charger.0", {"type": "ocpp.probe"})
    assert len(sweeps) == 2


async def test_the_in_memory_layer_still_drops_expired_messages():
    layer = channel_layers.InMemoryChannelLayer(expiry=-1)  # every message is stale at once
    await layer.send("specific.x!stale", {"type": "ocpp.command", "command_id": 1})
    layer._swept_at -= layer.CLEAN_EVERY_S
    layer._clean_expired()
    assert "specific.x!stale" not in layer.channels


async def test_the_in_memory_layer_delivers_in_order_and_refuses_over_capacity():
    layer = channel_layers.InMemoryChannelLayer(capacity=3)
    channel = await layer.new_channel()
    for n in range(3):
        await layer.send(channel, {"type": "ocpp.command", "command_id": n})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "ocpp.command", "command_id": 3})
    received = [await layer.receive(channel) for _ in range(3)]
    assert [message["command_id"] for message in received] == [0, 1, 2]
    assert channel not in layer.channels  # an empty channel is forgotten


async def test_a_waiting_receiver_gets_what_is_sent_later():
    layer = channel_layers.InMemoryChannelLayer()
    channel = await layer.new_channel()
    waiting = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.group_add("charger.1", channel)
    await layer.group_send("charger.1", {"type": "ocpp.command", "command_id": 7})
    assert await asyncio.wait_for(waiting, 1) == {"type": "ocpp.command", "command_id": 7}


async def test_a_cancelled_receiver_loses_nothing_for_the_next_one():
    # A charger's listener is cancelled when its socket closes; a message that arrives
    # at that moment stays for whoever receives on the channel next.
    layer = channel_layers.InMemoryChannelLayer()
    channel = await layer.new_channel()
    first = asyncio.ensure_future(layer.receive(channel))
    second = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "ocpp.command", "command_id": 1})
    first.cancel()  # woken for the message, cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == {"type": "ocpp.command", "command_id": 1}

    idle = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    idle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await idle
    assert channel not in layer.channels
    await layer.send(channel, {"type": "ocpp.command", "command_id": 2})
    assert await layer.receive(channel) == {"type": "ocpp.command", "command_id": 2}
