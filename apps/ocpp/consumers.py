"""Transport: the charger's websocket. Accepts, negotiates, moves frames; decides nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections

from apps.commands.services import pending_command_ids, station_group
from apps.ocpp import frames
from apps.ocpp.handlers import served_versions
from apps.ocpp.session import ChargerSession, station_for_connection
from apps.ocpp.versions import V16, negotiate

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CHARGER_ID_LENGTH = 48
# `/ocpp/` and `/ws/` name the endpoint, not a charger.
ENDPOINT_PREFIXES = frozenset({"ocpp", "ws"})
# Close codes (RFC 6455): 1002 protocol error, 1008 policy violation, 1011 server error.
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY_VIOLATION = 1008
CLOSE_SERVER_ERROR = 1011
CLOSE_REPLACED = 4000

# The connections this process holds, by station id.
_LOCAL: dict[int, OcppConsumer] = {}
_poller: asyncio.Task | None = None


def charger_id_from_path(raw_path: bytes | str) -> str:
    """Return the charger id: the last path segment, URL-decoded; raise ValueError if unfit."""
    if isinstance(raw_path, bytes):
        raw_path = raw_path.decode("latin-1")
    path = raw_path.split("?", 1)[0]
    segments = [part for part in path.split("/") if part]
    if len(segments) == 1 and segments[0] in ENDPOINT_PREFIXES and path.endswith("/"):
        raise ValueError("no charger id after the endpoint path")
    charger_id = unquote(segments[-1] if segments else "", errors="strict")
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


async def _poll_pending_commands(interval: float) -> None:
    """Hand pending commands of this process's chargers to their connections."""
    while True:
        await asyncio.sleep(interval)
        if not _LOCAL:
            continue
        try:
            rows = await run_sync(lambda: pending_command_ids(station_ids=list(_LOCAL)))
        except Exception:
            logger.warning("could not look for pending commands", exc_info=True)
            continue
        for station_id, command_id in rows:
            consumer = _LOCAL.get(station_id)
            if consumer is not None:
                consumer.enqueue(command_id)


def _ensure_poller() -> None:
    global _poller
    interval = settings.OCPP_COMMAND_POLL_INTERVAL
    if interval <= 0:
        return
    loop = asyncio.get_running_loop()
    if _poller is None or _poller.done() or _poller.get_loop() is not loop:
        _poller = loop.create_task(_poll_pending_commands(interval))


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
        self._outbox: asyncio.Queue[int | None] = asyncio.Queue()
        self._queued: set[int] = set()
        self._answers: dict[str, asyncio.Future] = {}
        await self.accept(subprotocol=version.subprotocol if offered else None)
        logger.info("%s: connected with OCPP %s", charger_id, version)
        previous = _LOCAL.get(station.pk)
        _LOCAL[station.pk] = self
        if previous is not None and previous is not self:
            await previous.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
        try:
            await self.channel_layer.group_add(station_group(station.pk), self.channel_name)
        except Exception:
            # Commands still arrive through the database poll; the charger is served.
            logger.warning("%s: channel layer unavailable", charger_id, exc_info=True)
        self._sender = asyncio.create_task(self._send_commands())
        _ensure_poller()
        for _, command_id in await run_sync(lambda: pending_command_ids(station_ids=[station.pk])):
            self.enqueue(command_id)

    def enqueue(self, command_id: int) -> None:
        """Queue a command for sending; each is queued once, sent in order, one at a time."""
        if self.session is None or command_id in self._queued:
            return
        self._queued.add(command_id)
        self._outbox.put_nowait(command_id)

    async def ocpp_command(self, event: dict[str, Any]) -> None:
        """Channel-layer message from send_command: a command for this charger."""
        self.enqueue(event["command_id"])

    async def _send_commands(self) -> None:
        while (command_id := await self._outbox.get()) is not None:
            try:
                await self._execute(command_id)
            except Exception:
                logger.exception("command %s failed", command_id)
            finally:
                self._queued.discard(command_id)

    async def _execute(self, command_id: int) -> None:
        session = self.session
        if session is None:
            return
        claimed = await run_sync(session.claim_command, command_id)
        if claimed is None:
            return
        command, text = claimed
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        self._answers[command.message_id] = answer
        try:
            await self.send(text_data=text)
            frame = await asyncio.wait_for(answer, command.timeout_s)
        except TimeoutError:
            frame = None
        except ConnectionError as exc:
            frame = frames.CallError(command.message_id, "GenericError", str(exc))
        finally:
            self._answers.pop(command.message_id, None)
        for reply in await run_sync(session.finish_command, command, frame):
            await self.send(text_data=reply)

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
            outcome = await run_sync(session.receive, text_data)
        except Exception:
            logger.exception("%s: frame processing failed", session.charger_id)
            replies = session.failure_replies(text_data)
        else:
            replies = outcome.replies
            if isinstance(outcome.frame, frames.CallResult | frames.CallError):
                self._resolve(outcome.frame)
        for reply in replies:
            await self.send(text_data=reply)

    def _resolve(self, frame: frames.CallResult | frames.CallError) -> None:
        if frame.message_type == frames.CALLRESULTERROR:
            # About a CALLRESULT we sent, not an answer to a command: logged, nothing to undo.
            logger.warning(
                "%s: CALLRESULTERROR for our answer %s: %s %s",
                self.session.charger_id if self.session else "-",
                frame.message_id,
                frame.error_code,
                frame.description,
            )
            return
        answer = self._answers.get(frame.message_id)
        if answer is None or answer.done():
            logger.warning("%s: answer to no CALL of ours: %s", self.session, frame.message_id)
            return
        answer.set_result(frame)

    async def disconnect(self, code: int) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        if _LOCAL.get(session.station.pk) is self:
            del _LOCAL[session.station.pk]
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(ConnectionError("connection closed before the answer"))
        with contextlib.suppress(Exception):
            await self.channel_layer.group_discard(
                station_group(session.station.pk), self.channel_name
            )
        # The sender stores the outcome of a command in flight, then stops; queued ones stay
        # pending in the database for the next connection.
        self._outbox.put_nowait(None)
        try:
            await run_sync(session.close)
        except Exception:
            logger.exception("%s: could not record the disconnect", session.charger_id)
        logger.info("%s: disconnected (%s)", session.charger_id, code)
