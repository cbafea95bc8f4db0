"""The Redis channel layer waits out an outage instead of ending every consumer."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.core import layers


async def test_receive_waits_for_redis_and_then_says_so(monkeypatch):
    layer = layers.ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    calls = {"receive": 0, "group_add": []}

    async def flaky_receive(self, channel):
        calls["receive"] += 1
        if calls["receive"] == 1:
            raise RedisConnectionError("Redis is away")
        return {"type": "ocpp.command", "command_id": 1}

    async def remember_group_add(self, group, channel):
        calls["group_add"].append((group, channel))

    monkeypatch.setattr(layers.RedisChannelLayer, "receive", flaky_receive)
    monkeypatch.setattr(layers.RedisChannelLayer, "group_add", remember_group_add)
    real_sleep = asyncio.sleep
    monkeypatch.setattr(layers.asyncio, "sleep", lambda _s: real_sleep(0))
    await layer.group_add("charger.7", "specific.abc!1")
    calls["group_add"].clear()

    first = await layer.receive("specific.abc!1")
    assert first == {"type": layers.RECOVERED}  # Redis answered again: recovered
    assert calls["group_add"] == [("charger.7", "specific.abc!1")]  # groups joined again
    assert await layer.receive("specific.abc!1") == {"type": "ocpp.command", "command_id": 1}


@pytest.mark.parametrize("discard", [True, False])
async def test_only_current_memberships_are_joined_again(monkeypatch, discard):
    layer = layers.ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:1/0"])

    async def nothing(self, *args):
        return None

    monkeypatch.setattr(layers.RedisChannelLayer, "group_add", nothing)
    monkeypatch.setattr(layers.RedisChannelLayer, "group_discard", nothing)
    await layer.group_add("g", "c")
    if discard:
        await layer.group_discard("g", "c")
    assert layer._memberships == ({} if discard else {"c": {"g"}})


async def test_the_in_memory_layer_sweeps_for_expired_entries_once_a_second(monkeypatch):
    layer = layers.InMemoryChannelLayer()
    sweeps = []
    real_sweep = layers.layers.InMemoryChannelLayer._clean_expired
    monkeypatch.setattr(
        layers.layers.InMemoryChannelLayer,
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
    layer = layers.InMemoryChannelLayer(expiry=-1)  # every message is stale at once
    await layer.send("specific.x!stale", {"type": "ocpp.command", "command_id": 1})
    layer._swept_at -= layer.CLEAN_EVERY_S
    layer._clean_expired()
    assert "specific.x!stale" not in layer.channels
