"""uvicorn's HTTP and websocket protocols with the limits of the charger edge.

start.sh runs uvicorn with `--http config.edge:EdgeHTTPProtocol --ws
config.edge:EdgeWebSocketProtocol` (config/serve.py). Two limits act on the TCP connection,
before the ASGI application sees anything, because uvicorn has neither:

- **Handshake timeout** (OCPP_HANDSHAKE_TIMEOUT): uvicorn arms no timer until a request's
  headers are complete, so a connection that sends nothing, or half a request, would hold its
  socket for ever. Here a timer starts when the connection is accepted (and again when a
  following request on a kept-alive connection begins) and is cancelled once the request's
  headers have arrived (for a websocket, its whole upgrade request); if it fires first, the
  connection is closed.
- **Connections per address** (OCPP_MAX_CONNECTIONS_PER_IP, 0: off): a connection from an
  address that already holds that many, HTTP and websocket together, is closed as soon as it
  is accepted, so one address cannot spend the process's file descriptors. Its count is freed
  when a connection closes, whichever protocol (HTTP, or the websocket it became) it ended
  in. A trusted proxy (OCPP_TRUSTED_PROXIES) is not limited: every charger behind it shares
  its address, and the proxy limits its own clients.

The counts are per process (uvicorn serves on one event loop).

Over TLS (config/serve.py: OCPP_TLS_CERT_FILE), a websocket's scope carries the ASGI TLS
extension (https://asgi.readthedocs.io/en/latest/specs/tls.html), which uvicorn does not
provide: the client certificate the ssl module verified against the client CA during the
TLS handshake (profile 3), its subject, the TLS version and cipher suite. A certificate that
does not verify never gets here: the TLS handshake fails (CERT_OPTIONAL).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections import Counter
from typing import Any

from cryptography import x509
from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from apps.protocol.handshake import is_trusted_proxy

logger = logging.getLogger(__name__)

# A refused connection is logged at most this often (seconds), with the count since the last.
REFUSAL_LOG_EVERY_S = 60.0


class _Slots:
    """Open connections per address; each counted connection is keyed by its transport."""

    def __init__(self) -> None:
        self.per_ip: Counter[str] = Counter()
        self.holders: dict[asyncio.BaseTransport, str] = {}
        self.refused = 0
        self.logged_at = -REFUSAL_LOG_EVERY_S

    def take(self, transport: asyncio.BaseTransport, ip: str | None) -> bool:
        """Count a new connection from `ip`; False (not counted) when the address is full."""
        cap = settings.OCPP_MAX_CONNECTIONS_PER_IP
        if ip is None or cap <= 0 or is_trusted_proxy(ip, settings.OCPP_TRUSTED_PROXIES):
            return True
        if self.per_ip[ip] >= cap:
            self._refused(ip, cap)
            return False
        self.per_ip[ip] += 1
        self.holders[transport] = ip
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        """Free the connection's count, once, if it had one."""
        ip = self.holders.pop(transport, None)
        if ip is None:
            return
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]

    def _refused(self, ip: str, cap: int) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self.logged_at >= REFUSAL_LOG_EVERY_S:
            logger.warning(
                "refused %d connection(s) over OCPP_MAX_CONNECTIONS_PER_IP=%d (latest from %s)",
                self.refused,
                cap,
                ip,
            )
            self.logged_at = now
            self.refused = 0


slots = _Slots()


class EdgeHTTPProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a handshake timeout and a per-address cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handshake_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not slots.take(transport, self.client[0] if self.client else None):
            transport.abort()  # its file descriptor is free at once
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        slots.release(self.transport)
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # a following request on a kept-alive connection gets its own time

    def on_headers_complete(self) -> None:
        # The request is here. Its body (a charger's diagnostics upload over a slow link) may
        # take its time; a websocket's count goes on with the transport.
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        if self.handshake_timer is None and not self.transport.is_closing():
            self.handshake_timer = self.loop.call_later(
                settings.OCPP_HANDSHAKE_TIMEOUT, self._handshake_timed_out
            )

    def _disarm(self) -> None:
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
            self.handshake_timer = None

    def _handshake_timed_out(self) -> None:
        self.handshake_timer = None
        if not self.transport.is_closing():
            logger.debug("closed %s: no whole request within the handshake timeout", self.client)
            self.transport.abort()


# The TLS versions as the TLS specifications number them (the extension's tls_version).
TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@functools.lru_cache(maxsize=64)
def _cipher_suites(context: ssl.SSLContext) -> dict[str, int]:
    """The context's cipher suites by OpenSSL name: their 16-bit TLS numbers."""
    return {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension of a connection: its client certificate, version and cipher.

    `getpeercert()` is filled only for a certificate that was verified against the client
    CA; one offered but not verified (which CERT_OPTIONAL does not let through) would have
    `client_cert_error` set. Only the client's own certificate is given: Python 3.11's ssl
    does not expose the rest of the chain it verified.
    """
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name = error = None
    if der is not None:
        chain = [ssl.DER_cert_to_PEM_cert(der)]
        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError as exc:
            error = f"unreadable certificate: {exc}"
        if error is None and not ssl_object.getpeercert():
            error = "not verified"
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,  # not needed here; the spec lets a server leave it out
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": error,
        "tls_version": TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": _cipher_suites(ssl_object.context).get(cipher[0]) if cipher else None,
    }


class EdgeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol that frees its connection's count when it closes and
    gives the application the ASGI TLS extension over TLS."""

    def connection_lost(self, exc: Exception | None) -> None:
        slots.release(self.transport)
        super().connection_lost(exc)

    async def run_asgi(self) -> None:
        # The scope is complete (the upgrade request was accepted); the application has not
        # seen it yet.
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            try:
                self.scope["extensions"]["tls"] = tls_extension(ssl_object)
            except Exception:
                # Without it a TLS connection would pass for a plain one: close it instead.
                logger.exception("closed %s: its TLS details could not be read", self.client)
                self.transport.abort()
                return
        await super().run_asgi()
