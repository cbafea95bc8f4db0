"""A websocket consumer with a lean per-message path, for connections that carry many frames.

Channels' AsyncConsumer waits on the websocket and the channel layer together for every
message (two tasks, an `asyncio.wait`, a new task per message) and, before each handler,
closes the loop thread's stale database connections through a thread hop. A charger sends
thousands of frames, so here:

- the websocket's messages are awaited directly, one at a time;
- channel-layer messages are read by one task of the connection's own;
- both are handled one at a time (a lock), as Channels does, so a layer message never runs
  in the middle of a frame's handling;
- no database housekeeping per message: these consumers never use the database on the event
  loop (their work runs in the database threads, which look after their connections);
- an exception out of a handler ends the connection as a disconnect does: `disconnect()`
  runs (code 1006). uvicorn raises ClientDisconnected from `send` on a socket reset while
  we answered, RuntimeError on one it closed itself (a ping timeout), and hands us no
  websocket.disconnect afterwards: without this the station would stay connected;
- `ended()` runs when the consumer ends, however it ends;
- `deny()` refuses the handshake with an HTTP answer of our own (status, headers, a
  plain-text reason) where the server offers ASGI's websocket denial response (uvicorn,
  and daphne run as config.daphne_server), and with the plain refusal every ASGI server
  has, HTTP 403, where it does not (plain daphne).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# RFC 6455's "closed abnormally": the socket ended without a close frame we saw.
CLOSE_ABNORMAL = 1006
# The ASGI extension that lets an application answer a websocket handshake with its own
# HTTP response (https://asgi.readthedocs.io/en/latest/extensions.html).
DENIAL_RESPONSE = "websocket.http.response"


class LeanWebsocketConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.scope = scope
        self.base_send = send
        self._dispatching = asyncio.Lock()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        listener = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            listener = asyncio.ensure_future(self._listen_to_layer())
        try:
            while True:
                message = await receive()
                async with self._dispatching:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        except Exception as exc:
            # The socket is over either way (uvicorn closes it after an application error).
            with contextlib.suppress(Exception):
                await self.disconnect(CLOSE_ABNORMAL)
            if not isinstance(exc, OSError):
                raise
            logger.info("websocket %s lost while sending: %r", scope.get("path"), exc)
        finally:
            self.ended()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def deny(self, status: int, reason: str, headers: Iterable[tuple[str, str]] = ()) -> int:
        """Refuse the handshake, before any accept: answer HTTP `status` instead of 101.

        Return the status answered: without the denial response extension the server answers
        403 itself, without our headers or reason (plain daphne: "403 Access denied").
        """
        if DENIAL_RESPONSE not in (self.scope.get("extensions") or {}):
            await self.base_send({"type": "websocket.close"})
            return HTTPStatus.FORBIDDEN
        body = reason.encode()
        await self.base_send(
            {
                "type": "websocket.http.response.start",
                "status": int(status),
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    *((name.lower().encode(), value.encode()) for name, value in headers),
                ],
            }
        )
        await self.base_send({"type": "websocket.http.response.body", "body": body})
        return status

    def ended(self) -> None:
        """Called once the consumer is done, however it ended (its task may have been cancelled,
        by a server shutting down, without a disconnect): let go of what must not outlive it."""

    async def _listen_to_layer(self) -> None:
        while True:
            message = await self.channel_layer.receive(self.channel_name)
            try:
                async with self._dispatching:
                    await self.dispatch(message)
            except (StopConsumer, asyncio.CancelledError):
                raise
            except Exception:
                # One bad layer message must not end the charger's connection.
                logger.exception("channel-layer message %s failed", message.get("type"))

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
