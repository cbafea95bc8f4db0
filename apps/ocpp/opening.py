"""Opening a charger's connection: its id, the handshake limit, admission, the OCPP version,
and a station that another connection may hold already (asked, then refused or replaced).

In the common case it is one database job (`admit`: admit, negotiate, open, find the pending
commands); who may connect is the security app's to say (`connection_admit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from django.conf import settings

from apps.chargers.models import ChargingStation
from apps.commands.services import pending_command_ids, station_group
from apps.ocpp import local
from apps.ocpp.connection import ChargerConnection
from apps.ocpp.dbthreads import run_sync
from apps.ocpp.handlers import served_versions
from apps.ocpp.limits import handshake_allowed, handshake_interval_s
from apps.protocol.handshake import Credentials, charger_id_from_path, credentials_from_scope
from apps.protocol.versions import V16, OcppVersion, negotiate
from apps.security.admission import Admission, Refused, connection_admit
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

logger = logging.getLogger(__name__)

# Close codes of a connection once accepted. Applications may only send 1000 or 3000-4999
# (daphne enforces it), so the RFC 6455 meanings are carried in the private range: 4000 + the
# RFC code's last digits. A refused handshake is answered with an HTTP status instead.
CLOSE_UNSUPPORTED_DATA = 4003  # RFC 1003: a binary frame (OCPP-J uses text frames only)
CLOSE_REPLACED = 4000
# How long a new connection waits for another process to say it holds the station.
PROBE_TIMEOUT_S = 1.0
# The protection space of the HTTP Basic challenge of a 401 (RFC 7617).
BASIC_CHALLENGE = 'Basic realm="OCPP", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class Refusal:
    """A handshake refused: the HTTP answer instead of the upgrade."""

    status: HTTPStatus
    reason: str  # the answer's plain-text body, for the charger (and the log) to read
    headers: tuple[tuple[str, str], ...] = ()


def _unauthorized(reason: str) -> Refusal:
    return Refusal(HTTPStatus.UNAUTHORIZED, reason, (("WWW-Authenticate", BASIC_CHALLENGE),))


def _too_many(reason: str, retry_after_s: float) -> Refusal:
    retry_after = str(max(1, math.ceil(retry_after_s)))
    return Refusal(HTTPStatus.TOO_MANY_REQUESTS, reason, (("Retry-After", retry_after),))


def admission_refusal(admission: Admission) -> Refusal:
    """The HTTP answer to a connection admission refused."""
    if admission.refused is Refused.CREDENTIALS:
        return _unauthorized(admission.reason)
    if admission.refused is Refused.LOCKED:
        # Nothing sent now can help, a right password included (see admission): wait.
        return _too_many(admission.reason, settings.OCPP_AUTH_LOCKOUT_SECONDS)
    return Refusal(HTTPStatus.FORBIDDEN, admission.reason)


@dataclass(slots=True)
class Opened:
    connection: ChargerConnection
    subprotocol: str | None  # for the handshake's answer: None when the charger offered none
    profile: int  # the security profile the handshake achieved
    pending: list[int]  # the station's pending commands, oldest first


@dataclass
class Opening:
    """What the opening database job found."""

    admission: Admission
    version: OcppVersion | None = None
    refusal: str = ""
    connection: ChargerConnection | None = None  # opened already, when nobody else held it
    pending: list[int] = field(default_factory=list)


def version_for(station: ChargingStation, offered: list[str]) -> tuple[OcppVersion | None, str]:
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


def _opened(connection: ChargerConnection) -> list[int]:
    """Open the connection; return the station's pending commands, oldest first."""
    connection.open()
    return [pk for _, pk in pending_command_ids(station_ids=[connection.station.pk])]


def admit(
    charger_id: str, credentials: Credentials, offered: list[str], single_process: bool = False
) -> Opening:
    """Admit a connection and, unless the station may be connected already, open it.

    `single_process` (the in-memory channel layer): this process's connections are all
    there are, so a station it does not hold is free whatever is_connected says (a drop not
    yet recorded, a restart) and opens in this same job.
    """
    admission = connection_admit(charger_id=charger_id, credentials=credentials)
    if not admission.allowed:
        return Opening(admission)
    station = admission.station
    assert station is not None
    version, refusal = version_for(station, offered)
    if version is None:
        return Opening(admission, refusal=refusal)
    if local.holds(station.pk) or (station.is_connected and not single_process):
        return Opening(admission, version)
    connection = ChargerConnection(station, version, settings.OCPP_MAX_FRAME_BYTES)
    return Opening(admission, version, connection=connection, pending=_opened(connection))


async def open_connection(
    scope: dict[str, Any], layer: BaseChannelLayer, channel_name: str
) -> Opened | Refusal:
    """Admit and open the connection of a websocket handshake, or say why not."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    try:
        charger_id = charger_id_from_path(raw_path)
    except ValueError as exc:
        # No charger can have this id: nothing is here (OCPP-J: unknown identity, 404).
        return Refusal(HTTPStatus.NOT_FOUND, f"invalid charger id: {exc}")
    credentials = credentials_from_scope(scope, trusted_proxies=settings.OCPP_TRUSTED_PROXIES)
    if not handshake_allowed(credentials.peer_ip):
        await _record(
            charger_id,
            "RateLimitExceeded",
            f"handshakes from {credentials.peer_ip} over the limit",
        )
        return _too_many("too many connection attempts, retry later", handshake_interval_s())
    offered = list(scope.get("subprotocols") or [])
    single_process = isinstance(layer, InMemoryChannelLayer)
    try:
        # One database job in the common case: admit, negotiate, open, find commands.
        opening = await run_sync(admit, charger_id, credentials, offered, single_process)
    except Exception:
        logger.exception("%s: could not admit the connection", charger_id)
        return Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "server error, try again later")
    admission, version = opening.admission, opening.version
    if not admission.allowed:
        return admission_refusal(admission)
    if version is None:
        # RFC 6455 4.2.2: the server may fail a handshake whose subprotocols it cannot serve;
        # the request is what must change (offer one of ours), hence 400.
        return Refusal(HTTPStatus.BAD_REQUEST, opening.refusal)
    station, connection, pending = admission.station, opening.connection, opening.pending
    assert station is not None
    if connection is None:  # the station may be connected already: look, then open
        if await _held_elsewhere(layer, station):
            if not admission.authenticated:
                await _record(
                    charger_id,
                    "DuplicateConnectionRefused",
                    f"unauthenticated second connection from {credentials.peer_ip}",
                    station.pk,
                )
                return Refusal(HTTPStatus.FORBIDDEN, "charger already connected")
            await _replace_previous(layer, channel_name, station, credentials.peer_ip)
        connection = ChargerConnection(station, version, settings.OCPP_MAX_FRAME_BYTES)
        pending = await run_sync(_opened, connection)
    subprotocol = version.subprotocol if offered else None
    return Opened(connection, subprotocol, admission.profile, pending)


async def _held_elsewhere(layer: BaseChannelLayer, station: ChargingStation) -> bool:
    """Tell whether a live connection serves the station already, here or elsewhere."""
    if local.holds(station.pk):
        return True
    if not station.is_connected or isinstance(layer, InMemoryChannelLayer):
        # In-memory layer: one process, and `local` knows its connections.
        return False
    # Another process may hold it, or may have died holding it: ask, briefly.
    try:
        reply_to = await layer.new_channel()
        await layer.group_send(
            station_group(station.pk), {"type": "ocpp.probe", "reply_to": reply_to}
        )
        await asyncio.wait_for(layer.receive(reply_to), PROBE_TIMEOUT_S)
    except Exception:
        return False
    return True


async def _replace_previous(
    layer: BaseChannelLayer, channel_name: str, station: ChargingStation, peer_ip: str
) -> None:
    """End the connection that holds the station: here, or through the layer elsewhere."""
    await run_sync(
        lambda: security_event_record(
            source=SecurityEvent.Source.CSMS,
            event_type="ConnectionReplaced",
            charger_id=station.charger_id,
            station_id=station.pk,
            tech_info=f"authenticated connection from {peer_ip} replaced the previous one",
        )
    )
    previous = local.get(station.pk)
    if previous is not None:
        await previous.end(CLOSE_REPLACED, "replaced by a new connection")
        return
    with contextlib.suppress(Exception):
        await layer.group_send(
            station_group(station.pk), {"type": "ocpp.replaced", "by": channel_name}
        )


async def _record(
    charger_id: str, event_type: str, info: str, station_id: int | None = None
) -> None:
    """Record a refusal as a security event (best effort)."""
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
