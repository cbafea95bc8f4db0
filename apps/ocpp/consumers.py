"""Transport: the charger's websocket. Accepts, negotiates, moves frames; decides nothing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from apps.chargers.models import ChargingStation
from apps.commands.services import pending_command_ids, station_group
from apps.core.batch import GroupCommitExecutor
from apps.ocpp.connection import ChargerConnection
from apps.ocpp.handlers import served_versions
from apps.ocpp.transport import LeanWebsocketConsumer
from apps.protocol import frames
from apps.protocol.handshake import Credentials, credentials_from_scope
from apps.protocol.limits import KeyedBuckets, TokenBucket
from apps.protocol.versions import V16, OcppVersion, negotiate
from apps.security.admission import Admission, connection_admit
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CHARGER_ID_LENGTH = 48
# `/ocpp/` and `/ws/` name the endpoint, not a charger.
ENDPOINT_PREFIXES = frozenset({"ocpp", "ws"})
# Close codes. Applications may only send 1000 or 3000-4999 (daphne enforces it), so the
# RFC 6455 meanings are carried in the private range: 4000 + the RFC code's last digits.
CLOSE_PROTOCOL_ERROR = 4002  # RFC 1002: no OCPP subprotocol we serve
CLOSE_POLICY_VIOLATION = 4008  # RFC 1008: refused (credentials, charger id, limits)
CLOSE_SERVER_ERROR = 4011  # RFC 1011: our failure, try again later
CLOSE_REPLACED = 4000
# How long a new connection waits for another process to say it holds the station.
PROBE_TIMEOUT_S = 1.0
# A connection over its message rate records one security event per this many seconds.
RATE_EVENT_EVERY_S = 60.0

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


_executor: GroupCommitExecutor | None = None


def db_executor() -> GroupCommitExecutor:
    """The process's database threads (OCPP_DB_THREADS; group commit, see apps/core/batch)."""
    global _executor
    if _executor is None:
        _executor = GroupCommitExecutor(threads=settings.OCPP_DB_THREADS)
    return _executor


async def run_sync(func: Callable[..., T], *args: Any) -> T:
    """Run blocking (database) work in the database threads; done once it is committed."""
    return await db_executor().run(func, *args)


_handshakes: KeyedBuckets | None = None


def _handshake_allowed(ip: str) -> bool:
    """Spend one of the IP address's handshakes (OCPP_HANDSHAKES_PER_MINUTE_PER_IP, 0: off)."""
    global _handshakes
    per_minute = settings.OCPP_HANDSHAKES_PER_MINUTE_PER_IP
    if per_minute <= 0:
        return True
    if _handshakes is None or _handshakes.rate != per_minute / 60:
        _handshakes = KeyedBuckets(per_minute / 60, per_minute)
    return _handshakes.take(ip)


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


def _negotiate(station: ChargingStation, offered: list[str]) -> tuple[OcppVersion | None, str]:
    """Return the version to speak, or None and why not."""
    if not offered:
        if settings.OCPP_REQUIRE_SUBPROTOCOL:
            return None, "an OCPP subprotocol is required"
        return V16, ""
    version = negotiate(offered, station.preferred_ocpp_version, served_versions())
    if version is None:
        supported = ", ".join(v.subprotocol for v in served_versions())
        return None, f"no supported OCPP subprotocol offered (supported: {supported})"
    return version, ""


@dataclass
class _Opening:
    admission: Admission
    version: OcppVersion | None = None
    refusal: str = ""
    session: ChargerConnection | None = None  # opened already, when nobody else held it
    pending: list[int] = field(default_factory=list)


def _open_session(session: ChargerConnection) -> list[int]:
    """Open the session; return the station's pending commands, oldest first."""
    session.open()
    return [pk for _, pk in pending_command_ids(station_ids=[session.station.pk])]


def _open(
    charger_id: str, credentials: Credentials, offered: list[str], single_process: bool = False
) -> _Opening:
    """Admit a connection and, unless the station may be connected already, open it.

    `single_process` (the in-memory channel layer): this process's connections are all
    there are, so a station it does not hold is free whatever is_connected says (a drop not
    yet recorded, a restart) and opens in this same job.
    """
    admission = connection_admit(charger_id=charger_id, credentials=credentials)
    if not admission.allowed:
        return _Opening(admission)
    station = admission.station
    assert station is not None
    version, refusal = _negotiate(station, offered)
    if version is None:
        return _Opening(admission, refusal=refusal)
    if station.pk in _LOCAL or (station.is_connected and not single_process):
        return _Opening(admission, version)
    session = ChargerConnection(station, version, settings.OCPP_MAX_FRAME_BYTES)
    return _Opening(admission, version, session=session, pending=_open_session(session))


class OcppConsumer(LeanWebsocketConsumer):
    session: ChargerConnection | None = None

    async def connect(self) -> None:
        raw_path = self.scope.get("raw_path") or self.scope["path"].encode()
        try:
            charger_id = charger_id_from_path(raw_path)
        except ValueError as exc:
            await self._refuse(CLOSE_POLICY_VIOLATION, f"invalid charger id: {exc}")
            return
        credentials = credentials_from_scope(
            self.scope, trusted_proxies=settings.OCPP_TRUSTED_PROXIES
        )
        if not _handshake_allowed(credentials.peer_ip):
            await self._refuse_and_record(
                charger_id,
                "RateLimitExceeded",
                "too many connection attempts, retry later",
                f"handshakes from {credentials.peer_ip} over the limit",
            )
            return
        offered = self._offered
        single_process = isinstance(self.channel_layer, InMemoryChannelLayer)
        try:
            # One database job in the common case: admit, negotiate, open, find commands.
            opening = await run_sync(_open, charger_id, credentials, offered, single_process)
        except Exception:
            logger.exception("%s: could not admit the connection", charger_id)
            await self._refuse(CLOSE_SERVER_ERROR, "server error, try again later")
            return
        admission = opening.admission
        if not admission.allowed:
            await self._refuse(CLOSE_POLICY_VIOLATION, admission.reason)
            return
        if opening.version is None:
            await self._refuse(CLOSE_PROTOCOL_ERROR, opening.refusal)
            return
        station, version, session = admission.station, opening.version, opening.session
        assert station is not None
        if session is None:  # the station may be connected already: look, then open
            if await self._held_elsewhere(station):
                if not admission.authenticated:
                    await self._refuse_and_record(
                        charger_id,
                        "DuplicateConnectionRefused",
                        "charger already connected",
                        f"unauthenticated second connection from {credentials.peer_ip}",
                        station.pk,
                    )
                    return
                await self._replace_previous(station, credentials.peer_ip)
            session = ChargerConnection(station, version, settings.OCPP_MAX_FRAME_BYTES)
            pending = await run_sync(lambda: _open_session(session))
        else:
            pending = opening.pending
        self.session = session
        # Commands to send, in order, and those queued or in flight; made with the first
        # command (most connections never get one; these cost 1 KiB each connection).
        # The sender task runs only while there are some.
        self._outbox: collections.deque[int] | None = None
        self._queued: set[int] | None = None
        self._sender: asyncio.Task | None = None
        self._answers: dict[str, asyncio.Future] = {}
        rate = settings.OCPP_MESSAGES_PER_SECOND
        self._bucket = TokenBucket(rate, rate * 2) if rate > 0 else None
        self._limited_at = 0.0
        await self.accept(subprotocol=version.subprotocol if self._offered else None)
        logger.info(
            "%s: connected with OCPP %s (profile %s)", charger_id, version, admission.profile
        )
        _LOCAL[station.pk] = self
        try:
            await self.channel_layer.group_add(station_group(station.pk), self.channel_name)
        except Exception:
            # Commands still arrive through the database poll; the charger is served.
            logger.warning("%s: channel layer unavailable", charger_id, exc_info=True)
        _ensure_poller()
        for command_id in pending:
            self.enqueue(command_id)

    @property
    def _offered(self) -> list[str]:
        return list(self.scope.get("subprotocols") or [])

    async def _held_elsewhere(self, station: ChargingStation) -> bool:
        """Tell whether a live connection serves the station already, here or elsewhere."""
        if station.pk in _LOCAL:
            return True
        if not station.is_connected or isinstance(self.channel_layer, InMemoryChannelLayer):
            # In-memory layer: one process, and _LOCAL knows its connections.
            return False
        # Another process may hold it, or may have died holding it: ask, briefly.
        try:
            reply_to = await self.channel_layer.new_channel()
            await self.channel_layer.group_send(
                station_group(station.pk), {"type": "ocpp.probe", "reply_to": reply_to}
            )
            await asyncio.wait_for(self.channel_layer.receive(reply_to), PROBE_TIMEOUT_S)
        except Exception:
            return False
        return True

    async def _replace_previous(self, station: ChargingStation, peer_ip: str) -> None:
        await run_sync(
            lambda: security_event_record(
                source=SecurityEvent.Source.CSMS,
                event_type="ConnectionReplaced",
                charger_id=station.charger_id,
                station_id=station.pk,
                tech_info=f"authenticated connection from {peer_ip} replaced the previous one",
            )
        )
        previous = _LOCAL.pop(station.pk, None)
        if previous is not None:
            await previous.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
            await previous.disconnect(CLOSE_REPLACED)
            return
        with contextlib.suppress(Exception):
            await self.channel_layer.group_send(
                station_group(station.pk), {"type": "ocpp.replaced", "by": self.channel_name}
            )

    async def ocpp_probe(self, event: dict[str, Any]) -> None:
        """Another process asks whether this connection is alive: it is."""
        with contextlib.suppress(Exception):
            await self.channel_layer.send(event["reply_to"], {"type": "ocpp.probe.reply"})

    async def ocpp_replaced(self, event: dict[str, Any]) -> None:
        """An authenticated connection in another process took this station over."""
        if event.get("by") != self.channel_name and self.session is not None:
            await self.close(code=CLOSE_REPLACED, reason="replaced by a new connection")
            await self.disconnect(CLOSE_REPLACED)

    async def _refuse_and_record(
        self,
        charger_id: str,
        event_type: str,
        reason: str,
        info: str,
        station_id: int | None = None,
    ) -> None:
        with contextlib.suppress(Exception):
            await run_sync(
                lambda: security_event_record(
                    source=SecurityEvent.Source.CSMS,
                    event_type=event_type,
                    charger_id=charger_id,
                    station_id=station_id,
                    tech_info=info,
                )
            )
        await self._refuse(CLOSE_POLICY_VIOLATION, reason)

    def enqueue(self, command_id: int) -> None:
        """Queue a command for sending; each is queued once, sent in order, one at a time.

        The sender task is started here, not at connect: most connections have no command
        most of the time, and ten thousand idle tasks cost memory and a storm's time.
        """
        if self.session is None:
            return
        if self._outbox is None or self._queued is None:
            self._outbox, self._queued = collections.deque(), set()
        elif command_id in self._queued:
            return
        self._queued.add(command_id)
        self._outbox.append(command_id)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_commands())

    async def layer_recovered(self, event: dict[str, Any]) -> None:
        """The channel layer is back after an outage: pick up commands sent meanwhile."""
        session = self.session
        if session is None:
            return
        pending = await run_sync(lambda: pending_command_ids(station_ids=[session.station.pk]))
        for _, command_id in pending:
            self.enqueue(command_id)

    async def ocpp_command(self, event: dict[str, Any]) -> None:
        """Channel-layer message from send_command: a command for this charger."""
        self.enqueue(event["command_id"])

    async def _send_commands(self) -> None:
        """Send the queued commands one at a time; end when none is left or the socket is."""
        while self._outbox and self.session is not None:
            command_id = self._outbox.popleft()
            try:
                await self._execute(command_id)
            except Exception:
                logger.exception("command %s failed", command_id)
            finally:
                if self._queued is not None:
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
        if self._bucket is not None and not self._bucket.take():
            await self._rate_limited(session, text_data)
            return
        try:
            outcome = await run_sync(session.receive, text_data)
        except Exception:
            logger.exception("%s: frame processing failed", session.charger_id)
            session.forget()
            replies = session.failure_replies(text_data)
        else:
            replies = outcome.replies
            if isinstance(outcome.frame, frames.CallResult | frames.CallError):
                self._resolve(outcome.frame)
        for reply in replies:
            await self.send(text_data=reply)

    async def _rate_limited(self, session: ChargerConnection, text: str) -> None:
        description = f"over {settings.OCPP_MESSAGES_PER_SECOND:g} messages per second"
        now = time.monotonic()
        record = now - self._limited_at > RATE_EVENT_EVERY_S
        if record:
            self._limited_at = now

        def refuse() -> list[str]:
            if record:
                security_event_record(
                    source=SecurityEvent.Source.CSMS,
                    event_type="RateLimitExceeded",
                    charger_id=session.charger_id,
                    station_id=session.station.pk,
                    tech_info=description,
                )
            return session.refusal_replies(text, f"rate limit: {description}")

        try:
            replies = await run_sync(refuse)
        except Exception:
            logger.exception("%s: could not refuse a frame", session.charger_id)
            return
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
        self._outbox = self._queued = None
        try:
            await run_sync(session.close)
        except Exception:
            logger.exception("%s: could not record the disconnect", session.charger_id)
        logger.info("%s: disconnected (%s)", session.charger_id, code)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """The socket closed: record it, and end the consumer.

        Channels' own handler then closes the event loop's stale database connections with
        a thread hop (one per disconnect, ten thousand in a storm); this consumer holds none
        on the loop, see `dispatch`.
        """
        await self.disconnect(message["code"])
        raise StopConsumer()
