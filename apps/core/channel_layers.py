"""Channel layers: a Redis one that outlives Redis outages, an in-memory one that scales.

Channels' consumers wait on `channel_layer.receive()` next to their websocket; with the
stock layer a Redis outage makes that raise, which ends every consumer and so every charger
connection of the process. Here `receive()` waits for Redis to come back instead (with
backoff), so chargers stay connected and served; sending (commands from other processes)
fails clearly meanwhile and works again once Redis is back.

Channels' in-memory layer sweeps every channel and group for expired entries on each
`receive()` and `group_send()`. Every connection starts a `receive()`, so N connections
opening cost N² steps: 10,000 chargers reconnecting at once spent most of the server's time
sweeping. `InMemoryChannelLayer` here sweeps at most once per CLEAN_EVERY_S instead, and
keeps each channel's messages in a `_Mailbox` rather than an asyncio.Queue: every charger
connection waits on a channel of its own all its life, and a Queue's three deques were
2 KiB of each idle connection's memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from copy import deepcopy
from typing import Any

from channels import layers
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# The message a consumer receives once the layer works again after an outage: consumers on
# this layer handle it (`layer_recovered`).
RECOVERED = "layer.recovered"
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
MAX_BACKOFF_S = 4.0


class ResilientRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Groups each channel of this process joined: a Redis that restarts empty has
        # forgotten them, so they are joined again once it is back.
        self._memberships: dict[str, set[str]] = {}

    async def group_add(self, group: str, channel: str) -> None:
        self._memberships.setdefault(channel, set()).add(group)
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        groups = self._memberships.get(channel)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self._memberships[channel]
        await super().group_discard(group, channel)

    async def receive(self, channel: str) -> dict:
        delay = 0.5
        while True:
            try:
                if delay > 0.5:
                    # Redis was away: make sure it knows our groups again, and tell the
                    # consumer, which may have missed messages meanwhile.
                    for group in list(self._memberships.get(channel, ())):
                        await super().group_add(group, channel)
                    return {"type": RECOVERED}
                return await super().receive(channel)
            except OUTAGE_ERRORS as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Cancelled mid-request (the consumer is ending), which redis reports as
                    # a broken connection: waiting that out would keep the task, and the
                    # consumer that awaits it, alive for ever.
                    raise asyncio.CancelledError() from exc
                logger.warning(
                    "channel layer: Redis unavailable (%s); retrying in %.1f s", exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)


class _Mailbox:
    """The part of asyncio.Queue the in-memory layer uses, with nothing allocated up front.

    Messages in a list (a channel holds a few at most), waiting receivers in another.
    """

    __slots__ = ("_getters", "_queue", "maxsize")

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._queue: list[Any] = []  # channels' sweep reads the oldest as _queue[0]
        self._getters: list[asyncio.Future] = []

    def qsize(self) -> int:
        return len(self._queue)

    def empty(self) -> bool:
        return not self._queue

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._queue)

    def put_nowait(self, item: Any) -> None:
        if self.full():
            raise asyncio.QueueFull
        self._queue.append(item)
        self._wake_one()

    def get_nowait(self) -> Any:
        if not self._queue:
            raise asyncio.QueueEmpty
        return self._queue.pop(0)

    async def get(self) -> Any:
        while not self._queue:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                elif self._queue:
                    # Woken for a message, then cancelled: the next receiver gets it.
                    self._wake_one()
                raise
        return self._queue.pop(0)

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class InMemoryChannelLayer(layers.InMemoryChannelLayer):
    """Channels' in-memory layer, its expiry sweep run at most once per CLEAN_EVERY_S.

    Messages expire after `expiry` seconds (60) and group memberships after `group_expiry`
    (a day): a sweep up to a second late changes neither in practice.
    """

    CLEAN_EVERY_S = 1.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._swept_at = -self.CLEAN_EVERY_S

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < self.CLEAN_EVERY_S:
            return
        self._swept_at = now
        super()._clean_expired()

    async def flush(self) -> None:
        await super().flush()
        self._swept_at = -self.CLEAN_EVERY_S

    def _mailbox(self, channel: str) -> _Mailbox:
        mailbox = self.channels.get(channel)
        if mailbox is None:
            mailbox = self.channels[channel] = _Mailbox(self.get_capacity(channel))
        return mailbox

    # send and receive as Channels' own, with a _Mailbox per channel.

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        try:
            self._mailbox(channel).put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def receive(self, channel: str) -> dict:
        self.require_valid_channel_name(channel)
        self._clean_expired()
        mailbox = self._mailbox(channel)
        try:
            _, message = await mailbox.get()
        finally:
            if mailbox.empty() and self.channels.get(channel) is mailbox:
                del self.channels[channel]
        return message
