"""The dashboard's websocket: live events of the "dashboard" group, for staff only.

Events arrive already serialised (`apps.core.events.serialise`, once, by the publisher) and
go to the browser as they are: no parsing, no reshaping. Who may watch is decided once, when
the socket opens. A watcher of all sites gets every event; anybody else only the events of
the stations of their sites (apps/chargers/tenancy.py): the set of those stations' keys is
read when the socket opens and again every VISIBILITY_TTL_S seconds (a membership or a
station's site changed), and each event's station key is looked up in it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.chargers.tenancy import sees_all_sites, station_ids_visible_to
from apps.core import live

logger = logging.getLogger(__name__)

# The permission a user needs to watch: the same as for seeing the stations in the admin.
VIEW_PERMISSION = "chargers.view_chargingstation"
# How long a watcher's set of visible stations is trusted before it is read again.
VISIBILITY_TTL_S = 30.0
# The clock of that TTL (a test moves it on).
clock = time.monotonic


def watch_scope(user: Any) -> tuple[bool, frozenset[int]]:
    """Return (sees all sites, keys of the stations `user` sees): what the feed is filtered by."""
    if sees_all_sites(user):
        return True, frozenset()
    return False, station_ids_visible_to(user)


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
    all_sites = False
    visible: frozenset[int] = frozenset()
    visible_until = 0.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(may_watch)(user):
            # Closing before accepting refuses the handshake (HTTP 403).
            await self.close()
            return
        await self._read_scope()
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

    async def _read_scope(self) -> None:
        self.all_sites, self.visible = await database_sync_to_async(watch_scope)(
            self.scope.get("user")
        )
        self.visible_until = clock() + VISIBILITY_TTL_S

    async def dashboard_event(self, event: dict[str, Any]) -> None:
        """Forward a published event's text (`apps.core.live`) to the browser unchanged.

        Unless the watcher sees all sites, only an event of one of their stations.
        """
        text = event.get("text")
        if not isinstance(text, str):
            logger.warning("dashboard socket: event without text %r", event)
            return
        if clock() >= self.visible_until:
            await self._read_scope()
        if not self.all_sites and event.get("station") not in self.visible:
            return
        await self.send(text_data=text)

    async def layer_recovered(self, event: dict[str, Any]) -> None:
        """The channel layer is back after an outage (core.channel_layers): nothing to do."""
