"""Transport: a charger's websocket. Moves frames and channel-layer messages; decides nothing.

Opening a connection (charger id, limits, admission, version, a duplicate elsewhere) is
apps/ocpp/opening.py; the process's connections and their command poll apps/ocpp/local.py;
our CALLs, in order and one at a time, matched to their answers apps/protocol/outbox.py. A
frame's work (engine, handlers, message log) runs in the database threads: ChargerConnection.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from channels.exceptions import StopConsumer

from apps.commands.services import pending_command_ids, station_group
from apps.ocpp import local
from apps.ocpp.connection import ChargerConnection
from apps.ocpp.dbthreads import run_sync
from apps.ocpp.limits import MessageRate
from apps.ocpp.opening import (
    CLOSE_REPLACED,
    CLOSE_UNSUPPORTED_DATA,
    Refusal,
    open_connection,
)
from apps.ocpp.transport import LeanWebsocketConsumer
from apps.protocol import frames
from apps.protocol.outbox import Outbox, match

logger = logging.getLogger(__name__)


class OcppConsumer(LeanWebsocketConsumer):
    connection: ChargerConnection | None = None
    # Set on an instance only when needed: an idle connection holds as little as it can.
    _outbox: Outbox[int] | None = None  # our commands, made with the first one
    _rate: MessageRate | None = None  # its message rate limit

    async def connect(self) -> None:
        opened = await open_connection(self.scope, self.channel_layer, self.channel_name)
        if isinstance(opened, Refusal):
            # At the handshake, never upgraded: the HTTP status, and a reason to read.
            status = await self.deny(opened.status, opened.reason, opened.headers)
            logger.warning(
                "refused websocket %s: HTTP %d, %s", self.scope.get("path"), status, opened.reason
            )
            return
        connection = self.connection = opened.connection
        self._rate = MessageRate.configured()
        await self.accept(subprotocol=opened.subprotocol)
        charger_id, station_id = connection.charger_id, connection.station.pk
        version, profile = connection.version, opened.profile
        logger.info("%s: connected with OCPP %s (profile %s)", charger_id, version, profile)
        local.add(station_id, self)
        try:
            await self.channel_layer.group_add(station_group(station_id), self.channel_name)
        except Exception:
            # Commands still arrive through the database poll; the charger is served.
            logger.warning("%s: channel layer unavailable", charger_id, exc_info=True)
        for command_id in opened.pending:
            self.enqueue(command_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        connection = self.connection
        if connection is None:
            return
        if text_data is None:
            # OCPP-J is carried in text frames only: RFC 6455's "unsupported data". The
            # disconnect is recorded before the charger sees the close.
            await self.disconnect(CLOSE_UNSUPPORTED_DATA)
            await self.close(
                CLOSE_UNSUPPORTED_DATA, "binary frames are not OCPP-J: text frames only"
            )
            return
        rate = self._rate
        if rate is not None and not rate.take():
            replies = rate.refuse(connection, text_data)
            record = rate.record(connection)
            if record is not None:
                try:
                    await run_sync(record)
                except Exception:
                    logger.exception("%s: could not record a rate limit", connection.charger_id)
            for reply in replies:
                await self.send(text_data=reply)
            return
        try:
            outcome = await run_sync(connection.receive, text_data)
        except Exception:
            logger.exception("%s: frame processing failed", connection.charger_id)
            connection.forget()
            replies = connection.failure_replies(text_data)
        else:
            replies = outcome.replies
            if isinstance(outcome.frame, frames.CallResult | frames.CallError):
                unmatched = match(self._outbox, outcome.frame)
                if unmatched:
                    logger.warning("%s: %s", connection.charger_id, unmatched)
        for reply in replies:
            await self.send(text_data=reply)

    def enqueue(self, command_id: int) -> None:
        """Queue a command for sending: each once, in order, one at a time."""
        if self.connection is None:
            return
        if self._outbox is None:
            self._outbox = Outbox(self._execute)
        self._outbox.put(command_id)

    async def _execute(self, command_id: int) -> None:
        connection, outbox = self.connection, self._outbox
        if connection is None or outbox is None:
            return
        claimed = await run_sync(connection.claim_command, command_id)
        if claimed is None:
            return
        command, text = claimed
        answer = await outbox.call(
            command.message_id, lambda: self.send(text_data=text), command.timeout_s
        )
        for reply in await run_sync(connection.finish_command, command, answer):
            await self.send(text_data=reply)

    async def ocpp_command(self, event: dict[str, Any]) -> None:
        """Channel-layer message from send_command: a command for this charger."""
        self.enqueue(event["command_id"])

    async def layer_recovered(self, event: dict[str, Any]) -> None:
        """The channel layer is back after an outage: pick up commands sent meanwhile."""
        connection = self.connection
        if connection is None:
            return
        pending = await run_sync(lambda: pending_command_ids(station_ids=[connection.station.pk]))
        for _, command_id in pending:
            self.enqueue(command_id)

    async def ocpp_probe(self, event: dict[str, Any]) -> None:
        """Another process asks whether this connection is alive: it is."""
        with contextlib.suppress(Exception):
            await self.channel_layer.send(event["reply_to"], {"type": "ocpp.probe.reply"})

    async def ocpp_replaced(self, event: dict[str, Any]) -> None:
        """An authenticated connection in another process took this station over."""
        if event.get("by") != self.channel_name and self.connection is not None:
            await self.end(CLOSE_REPLACED, "replaced by a new connection")

    async def end(self, code: int, reason: str) -> None:
        """Close the socket and the connection: another one took the station over."""
        await self.close(code=code, reason=reason)
        await self.disconnect(code)

    async def disconnect(self, code: int) -> None:
        connection = self.connection
        if connection is None:
            return
        self._let_go(connection)
        with contextlib.suppress(Exception):
            await self.channel_layer.group_discard(
                station_group(connection.station.pk), self.channel_name
            )
        try:
            await run_sync(connection.close)
        except Exception:
            logger.exception("%s: could not record the disconnect", connection.charger_id)
        logger.info("%s: disconnected (%s)", connection.charger_id, code)

    def _let_go(self, connection: ChargerConnection) -> None:
        self.connection = None
        local.discard(connection.station.pk, self)
        if self._outbox is not None:
            # The command in flight fails and its outcome is stored; queued ones stay
            # pending in the database for the next connection.
            self._outbox.close()

    def ended(self) -> None:
        """Also when its task was cancelled (a server shutting down) and disconnect never ran."""
        if self.connection is not None:
            self._let_go(self.connection)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """The socket closed: record it, and end the consumer.

        Channels' own handler then closes the event loop's stale database connections with
        a thread hop (one per disconnect, ten thousand in a storm); this consumer holds none
        on the loop, see `dispatch`.
        """
        await self.disconnect(message["code"])
        raise StopConsumer()
