"""Transport: the charger's websocket. Accepts, negotiates, moves frames; decides nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections

from apps.ocpp.handlers import served_versions
from apps.ocpp.session import ChargerSession, station_for_connection
from apps.ocpp.versions import V16, negotiate

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CHARGER_ID_LENGTH = 48
# Close codes (RFC 6455): 1002 protocol error, 1008 policy violation, 1011 server error.
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY_VIOLATION = 1008
CLOSE_SERVER_ERROR = 1011


def charger_id_from_path(raw_path: bytes | str) -> str:
    """Return the charger id: the last path segment, URL-decoded; raise ValueError if unfit."""
    if isinstance(raw_path, bytes):
        raw_path = raw_path.decode("latin-1")
    segment = raw_path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    charger_id = unquote(segment, errors="strict")
    if not 1 <= len(charger_id) <= MAX_CHARGER_ID_LENGTH:
        raise ValueError(f"charger id must be 1 to {MAX_CHARGER_ID_LENGTH} characters")
    if ":" in charger_id:
        raise ValueError("charger id must not contain ':'")
    if not charger_id.isprintable() or charger_id != charger_id.strip():
        raise ValueError("charger id must be printable, without surrounding spaces")
    return charger_id


async def run_sync(func: Callable[..., T], *args: Any) -> T:
    """Run blocking (database) work in a worker thread, with fresh-enough connections."""

    def call() -> T:
        close_old_connections()
        try:
            return func(*args)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


class OcppConsumer(AsyncWebsocketConsumer):
    session: ChargerSession | None = None

    async def connect(self) -> None:
        raw_path = self.scope.get("raw_path") or self.scope["path"].encode()
        try:
            charger_id = charger_id_from_path(raw_path)
        except ValueError as exc:
            await self._refuse(CLOSE_POLICY_VIOLATION, f"invalid charger id: {exc}")
            return
        offered = list(self.scope.get("subprotocols") or [])
        try:
            station = await run_sync(station_for_connection, charger_id)
        except Exception:
            logger.exception("%s: could not load the station", charger_id)
            await self._refuse(CLOSE_SERVER_ERROR, "server error, try again later")
            return
        if offered:
            version = negotiate(offered, station.preferred_ocpp_version, served_versions())
            if version is None:
                await self._refuse(
                    CLOSE_PROTOCOL_ERROR,
                    "no supported OCPP subprotocol offered (supported: "
                    + ", ".join(v.subprotocol for v in served_versions())
                    + ")",
                )
                return
        elif settings.OCPP_REQUIRE_SUBPROTOCOL:
            await self._refuse(CLOSE_PROTOCOL_ERROR, "an OCPP subprotocol is required")
            return
        else:
            version = V16
        session = ChargerSession(station, version, settings.OCPP_MAX_FRAME_BYTES)
        await run_sync(session.open)
        self.session = session
        await self.accept(subprotocol=version.subprotocol if offered else None)
        logger.info("%s: connected with OCPP %s", charger_id, version)

    async def _refuse(self, code: int, reason: str) -> None:
        """Refuse with a reason the client can read: accept, then close with it."""
        logger.warning("refused websocket %s: %s", self.scope.get("path"), reason)
        await self.accept()
        await self.close(code=code, reason=reason)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session = self.session
        if session is None:
            return
        if text_data is None:
            # OCPP-J frames are text; decode binary ones the same way rather than drop them.
            text_data = (bytes_data or b"").decode("utf-8", "replace")
        try:
            replies = (await run_sync(session.receive, text_data)).replies
        except Exception:
            logger.exception("%s: frame processing failed", session.charger_id)
            replies = session.failure_replies(text_data)
        for reply in replies:
            await self.send(text_data=reply)

    async def disconnect(self, code: int) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        try:
            await run_sync(session.close)
        except Exception:
            logger.exception("%s: could not record the disconnect", session.charger_id)
        logger.info("%s: disconnected (%s)", session.charger_id, code)
