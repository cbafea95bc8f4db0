"""The ASGI server's command line, the one start.sh runs (and the fault tests start).

`python -m config.serve uvicorn|daphne BIND PORT` prints the arguments that follow the Python
interpreter, one a line; start.sh reads them into an array. The edge limits come from the
settings (docs/robustness.md, "Limits at the edge"):

- the largest websocket message a server takes in: twice OCPP_MAX_FRAME_BYTES, so that a frame
  a little over the limit is still read and answered with the documented CALLERROR
  (FormatViolation), while a huge one is refused with close code 1009 from its header, before
  its payload is buffered;
- uvicorn runs config.edge's protocols: a connection that has not sent a whole request within
  OCPP_HANDSHAKE_TIMEOUT seconds is closed, and one address holds at most
  OCPP_MAX_CONNECTIONS_PER_IP connections;
- daphne runs as config.daphne_server (daphne's own command line, with the ASGI websocket
  denial response daphne lacks, so that a refused charger gets our status and headers); it
  has neither of uvicorn's edge protocols (Twisted closes a connection that sends nothing
  for 60 s, and that is not configurable from daphne's command line); it gets the message
  and frame size limits, and refuses a larger message by dropping the TCP connection
  (autobahn's failByDrop).

TLS (OCPP_TLS_CERT_FILE + OCPP_TLS_KEY_FILE, start.sh --tls-cert/--tls-key): uvicorn serves
it on the same port, asks every client for a certificate without requiring one
(CERT_OPTIONAL: profiles 1 and 2 connect without) and lets the TLS handshake fail for a
certificate that does not verify against OCPP_TLS_CLIENT_CA_FILE (default: the CSMS CA);
config.edge hands a verified one to the application (profile 3). daphne is refused: it does
not tell the application that a websocket came over TLS, nor its client certificate.
"""

from __future__ import annotations

import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from apps.security.ca import ca_certificate_path

# The websocket message limit is this many times OCPP_MAX_FRAME_BYTES (see above).
WS_MAX_SIZE_FACTOR = 2
# daphne's command line with ASGI's websocket denial response (config/daphne_server.py).
DAPHNE_MODULE = "config.daphne_server"
# A deep listen backlog: thousands of chargers reconnecting at once must not be dropped.
BACKLOG = 4096


@dataclass(frozen=True)
class TlsFiles:
    """The server's certificate chain and key, and the CA its clients' certificates need."""

    cert: str
    key: str
    client_ca: str

    def uvicorn_options(self) -> list[str]:
        return [
            "--ssl-certfile",
            self.cert,
            "--ssl-keyfile",
            self.key,
            "--ssl-ca-certs",
            self.client_ca,
            "--ssl-cert-reqs",
            str(int(ssl.CERT_OPTIONAL)),
        ]


def tls_files(cert: str, key: str, client_ca: str) -> TlsFiles | None:
    """Return the TLS files from the settings' values, None for no TLS; ValueError if unfit.

    `client_ca` empty: the CSMS CA's certificate (made on first use).
    """
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("OCPP_TLS_CERT_FILE and OCPP_TLS_KEY_FILE are set together or not at all")
    if not client_ca:
        client_ca = str(ca_certificate_path())
    files = [Path(name).expanduser() for name in (cert, key, client_ca)]
    for path in files:
        if not path.is_file():
            raise ValueError(f"TLS file not found: {path}")
    return TlsFiles(*(str(path) for path in files))


def ws_max_size(max_frame_bytes: int) -> int:
    """The largest websocket message the server reads, for an OCPP frame limit."""
    return WS_MAX_SIZE_FACTOR * max_frame_bytes


def server_command(
    server: str, bind: str, port: int, *, max_frame_bytes: int, tls: TlsFiles | None = None
) -> list[str]:
    """The arguments after `python` that serve config.asgi:application with `server`."""
    max_size = str(ws_max_size(max_frame_bytes))
    if server == "uvicorn":
        # No per-message compression: chargers rarely ask for it, and it costs a connection
        # twice the memory and a message a fifth more CPU (docs/performance.md).
        return [
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            bind,
            "--port",
            str(port),
            "--backlog",
            str(BACKLOG),
            "--no-proxy-headers",
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "false",
            "--ws-max-size",
            max_size,
            "--http",
            "config.edge:EdgeHTTPProtocol",
            "--ws",
            "config.edge:EdgeWebSocketProtocol",
            *(tls.uvicorn_options() if tls else []),
        ]
    if server == "daphne":
        if tls is not None:
            raise ValueError(
                "daphne cannot serve TLS to chargers (it tells the application neither that "
                "a websocket came over TLS nor its client certificate): use uvicorn, or "
                "terminate TLS in a proxy (docs/security.md)"
            )
        if ":" in bind:
            listen = ["-b", bind, "-p", str(port)]
        else:
            listen = ["-e", f"tcp:port={port}:interface={bind}:backlog={BACKLOG}"]
        # A handshake may wait for the database in a reconnect storm: give the application a
        # minute to accept, not 5 s (daphne uses the same value for autobahn's opening
        # handshake timeout).
        return [
            "-m",
            DAPHNE_MODULE,
            *listen,
            "--websocket_connect_timeout",
            "60",
            "--websocket-max-message-size",
            max_size,
            "--websocket-max-frame-size",
            max_size,
            "config.asgi:application",
        ]
    raise ValueError(f"unknown server {server!r}: uvicorn or daphne")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m config.serve uvicorn|daphne BIND PORT", file=sys.stderr)
        return 2
    from django.conf import settings

    server, bind, port = argv
    try:
        tls = tls_files(
            settings.OCPP_TLS_CERT_FILE,
            settings.OCPP_TLS_KEY_FILE,
            settings.OCPP_TLS_CLIENT_CA_FILE,
        )
        command = server_command(
            server, bind, int(port), max_frame_bytes=settings.OCPP_MAX_FRAME_BYTES, tls=tls
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
