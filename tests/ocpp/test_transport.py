"""LeanWebsocketConsumer: one message at a time, a bad channel-layer message survived."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from apps.ocpp.transport import LeanWebsocketConsumer


class Probe(LeanWebsocketConsumer):
    log: list[str] = []

    async def connect(self) -> None:
        await self.channel_layer.group_add("lean-probe", self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.log.append(f"start {text_data}")
        await asyncio.sleep(0.2)  # a frame's database work
        self.log.append(f"end {text_data}")
        await self.send(text_data=f"done {text_data}")

    async def lean_event(self, event: dict) -> None:
        self.log.append("event")
        await self.send(text_data="event")

    async def lean_broken(self, event: dict) -> None:
        raise RuntimeError("a handler that fails")


# channels.testing closes stale database connections around the application.
@pytest.mark.django_db
def test_messages_are_handled_one_at_a_time_and_a_failing_layer_message_is_survived():
    Probe.log = []

    async def scenario() -> None:
        client = WebsocketCommunicator(Probe.as_asgi(), "/ocpp/LEAN")
        connected, _ = await client.connect()
        assert connected
        layer = get_channel_layer()
        await client.send_to(text_data="a")
        await asyncio.sleep(0.05)  # "a" is being handled
        await layer.group_send("lean-probe", {"type": "lean.broken"})
        await layer.group_send("lean-probe", {"type": "lean.event"})
        assert await client.receive_from(timeout=2) == "done a"
        assert await client.receive_from(timeout=2) == "event"
        await client.send_to(text_data="b")
        assert await client.receive_from(timeout=2) == "done b"
        await client.disconnect()

    asyncio.run(scenario())
    assert Probe.log == ["start a", "end a", "event", "start b", "end b"]
