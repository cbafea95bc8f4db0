"""daphne with ASGI's websocket denial response: `python -m config.daphne_server <daphne args>`.

daphne (4.2) neither advertises nor implements the "websocket.http.response" extension
(django/daphne#486): an application that refuses a handshake can only send websocket.close,
and daphne answers every such refusal "403 Access denied". The transport refuses chargers
with a status of its own (401 with `WWW-Authenticate`, 404, 400, 429 with `Retry-After`, 503;
docs/ocpp.md, "Refused connections"), so this launcher runs daphne's own command line
unchanged except for its websocket protocol:

- the websocket scope's "extensions" has "websocket.http.response";
- before accept, `websocket.http.response.start` (status, headers) and then
  `websocket.http.response.body` (body, more_body; the parts are joined) fail the handshake
  with that status line, those headers and that body. As uvicorn does, Content-Type
  (text/plain; charset=utf-8), Content-Length, Connection: close and Date are added when the
  application did not send them. The response is written through autobahn's failHandshake
  path (its own failHandshake writes only a status line and headers, no body), after which
  autobahn closes the TCP connection and the application gets websocket.disconnect;
- everything else (accept, close, a close before accept, frames, timeouts) is daphne's.

The protocol is installed on the factory of our Server (daphne's CommandLineInterface lets a
subclass name its server class); no daphne module is changed.
"""

from __future__ import annotations

import email.utils
import sys
from http import HTTPStatus
from typing import Any

# daphne.server installs Twisted's asyncio reactor: it is imported before anything of Twisted.
from daphne.server import Server  # isort: skip
from autobahn.websocket.types import ConnectionDeny
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketProtocol

DENIAL_RESPONSE = "websocket.http.response"

# What the answer carries unless the application sent it (uvicorn adds the same).
DEFAULT_CONTENT_TYPE = b"text/plain; charset=utf-8"


def denial_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The HTTP/1.1 response refusing a handshake; ValueError for a bad status or header."""
    if not 100 <= status <= 599:
        raise ValueError(f"invalid HTTP status {status} in websocket.http.response.start")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [b"HTTP/1.1 %d %s" % (status, phrase.encode("ascii"))]
    names = set()
    for name, value in headers:
        if any(c in part for part in (name, value) for c in (b"\r", b"\n", b"\0")) or b":" in name:
            raise ValueError(f"invalid response header {name!r}: {value!r}")
        names.add(name.lower())
        lines.append(name + b": " + value)
    defaults = {
        b"content-type": DEFAULT_CONTENT_TYPE,
        b"content-length": str(len(body)).encode(),
        b"connection": b"close",
        b"date": email.utils.formatdate(usegmt=True).encode(),
    }
    lines += [name + b": " + value for name, value in defaults.items() if name not in names]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class DenialWebSocketProtocol(WebSocketProtocol):
    """daphne's websocket protocol, which also answers a handshake with the application's
    websocket.http.response.start/body."""

    # (status, headers, body so far) from websocket.http.response.start on.
    denial: tuple[int, list[tuple[bytes, bytes]], bytearray] | None = None
    # The whole answer, once the last body part came; written by failHandshake.
    denial_bytes: bytes | None = None

    def handle_reply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "websocket.http.response.start":
            if self.state != self.STATE_CONNECTING or self.denial is not None:
                raise ValueError("websocket.http.response.start only before websocket.accept")
            headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]
            self.denial = (int(message["status"]), headers, bytearray())
        elif kind == "websocket.http.response.body":
            if self.denial is None:
                raise ValueError("websocket.http.response.body before its .start")
            self.denial[2].extend(message.get("body", b""))
            if not message.get("more_body", False):
                self.serverDeny()
        elif self.denial is not None:
            raise ValueError(f"{kind} in the middle of a websocket.http.response")
        else:
            super().handle_reply(message)

    def serverDeny(self) -> None:
        """Fail the handshake with the application's response (as daphne's serverReject)."""
        assert self.denial is not None
        status, headers, body = self.denial
        self.denial_bytes = denial_response(status, headers, bytes(body))
        # autobahn answers the ConnectionDeny with failHandshake (below), synchronously.
        reason = f"denied by the application: HTTP {status}"
        self.handshake_deferred.errback(ConnectionDeny(code=status, reason=reason))
        del self.handshake_deferred
        self.server.protocol_disconnected(self)
        client = "{}:{}".format(*self.client_addr) if self.client_addr else None
        details = {"path": self.request.path, "client": client}
        self.server.log_action("websocket", "rejected", details)

    def failHandshake(self, reason: str, code: int = 400, responseHeaders: Any = None) -> None:
        if self.denial_bytes is None:  # autobahn's own refusals, daphne's 403 and 500
            super().failHandshake(reason, code, responseHeaders)
            return
        self.wasNotCleanReason = reason
        self.sendData(self.denial_bytes)
        self.dropConnection(abort=False)


class DenialServer(Server):
    """daphne's Server with DenialWebSocketProtocol on its websocket factory, advertised in
    the websocket scope."""

    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        # Server.run makes the factory (daphne.ws_protocol.WebSocketFactory) and sets it here.
        factory.protocol = DenialWebSocketProtocol
        self._ws_factory = factory

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if isinstance(protocol, DenialWebSocketProtocol):
            scope["extensions"] = {**scope.get("extensions", {}), DENIAL_RESPONSE: {}}
        return super().create_application(protocol, scope)


class DenialCommandLineInterface(CommandLineInterface):
    server_class = DenialServer


def main(argv: list[str]) -> None:
    DenialCommandLineInterface().run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
