"""The dashboard's websocket: live events of the "dashboard" group, for staff only.

Events arrive already serialised (`apps.core.events.serialise`, once, by the publisher) and
go to the browser as they are: no parsing, no reshaping. Who may watch is decided once, when
the socket opens; every event then goes to every watcher.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.core import live

logger = logging.getLogger(__name__)

# The permission a user needs to watch: the same as for seeing the stations in the admin.
VIEW_PERMISSION = "chargers.view_chargingstation"


def may_watch(user: Any) -> bool:
    """Return whether `user` may see live events: an active staff member who sees stations."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW_PERMISSION)
    )


class DashboardConsumer(AsyncWebsocketConsumer):
    """Forward the control center's live events to one browser."""

    watching = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(may_watch)(user):
            # Closing before accepting refuses the handshake (HTTP 403).
            await self.close()
            return
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        live.watcher_joined(asyncio.get_running_loop())
        self.watching = True
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if not self.watching:
            return
        self.watching = False
        live.watcher_left()
        try:
            await self.channel_layer.group_discard(live.GROUP, self.channel_name)
        except Exception:
            logger.warning("dashboard socket: could not leave the group", exc_info=True)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The browser only listens; a "ping" is answered so it can tell the socket is alive.
        if text_data == "ping":
            await self.send(text_data='{"kind":"pong","data":{}}')

    async def dashboard_event(self, event: dict[str, Any]) -> None:
        """Forward a published event's text (`apps.core.live`) to the browser unchanged."""
        text = event.get("text")
        if not isinstance(text, str):
            logger.warning("dashboard socket: event without text %r", event)
            return
        await self.send(text_data=text)

    async def layer_recovered(self, event: dict[str, Any]) -> None:
        """The channel layer is back after an outage (core.channel_layers): nothing to do."""
