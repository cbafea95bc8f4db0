"""Who may open a charger connection: security profiles, passwords, lockout, events.

A station's `security_profile` is the weakest way it may connect:

| achieved by the handshake | profile |
| --- | --- |
| nothing (no credentials) | 0 — only while OCPP_ALLOW_UNSECURED is on |
| HTTP Basic, user = charger id, right password | 1 |
| the same over TLS | 2 |
| a client certificate the TLS terminator verified, CN = charger id, not revoked | 3 |

The TLS terminator is uvicorn itself (config.edge, the ASGI TLS extension) or a trusted
proxy (its headers). A certificate our CA issued and an operator revoked is refused by its
serial number, whoever verified it.

Failed authentications are counted per source: the client's address (as the handshake
resolves it, trusted proxies honoured) together with the charger id it claims. Past
OCPP_AUTH_MAX_FAILURES within OCPP_AUTH_LOCKOUT_SECONDS that source is locked out for that
long, before any password is checked. The same charger id from another address is judged by
its credentials as usual: wrong guesses lock out the guesser, never the station (issue #14).
A verified client certificate is admitted even from a locked source (no secret is guessed
here); a password from a locked source is not looked at, right or wrong — answering it would
tell the prober when he guessed right. See docs/security.md, "Lockout".
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.chargers.models import ChargingStation, SecurityProfile
from apps.chargers.services import station_get_or_register
from apps.protocol.handshake import Credentials
from apps.security import statements
from apps.security.models import SecurityEvent
from apps.security.passwords import password_matches
from apps.security.selectors import issued_certificate_revoked
from apps.security.services import security_event_record

logger = logging.getLogger(__name__)


class Refused(enum.Enum):
    """Why a connection was refused, as far as the client can act on it."""

    CREDENTIALS = "credentials"  # missing or wrong: (other) HTTP Basic credentials could help
    LOCKED = "locked"  # too many failed authentications from this source: wait
    FORBIDDEN = "forbidden"  # credentials cannot help: TLS or a certificate is needed


@dataclass(frozen=True)
class Admission:
    allowed: bool
    station: ChargingStation | None = None
    profile: int = 0  # what the handshake achieved
    reason: str = ""  # why not, for the charger to read
    refused: Refused | None = None  # why not, for the transport's answer

    @property
    def authenticated(self) -> bool:
        """The client proved it is the station (profile 1 or better)."""
        return self.allowed and self.profile >= SecurityProfile.BASIC


class _Failure(Exception):
    def __init__(
        self, event_type: str, detail: str, refused: Refused = Refused.CREDENTIALS
    ) -> None:
        super().__init__(detail)
        self.event_type = event_type
        self.detail = detail
        self.refused = refused


def _source(charger_id: str, credentials: Credentials) -> str:
    """Who a failed authentication is counted against: the address and the id it claims."""
    return f"{credentials.peer_ip}|{charger_id}"


def _failures_key(source: str) -> str:
    return f"ocpp:auth-failures:{source}"


def _locked_key(source: str) -> str:
    return f"ocpp:auth-locked:{source}"


def _certified(charger_id: str, creds: Credentials) -> bool:
    """The TLS terminator verified a client certificate naming `charger_id` (profile 3)."""
    return (
        creds.tls
        and (creds.client_cert_verify or "").upper() == "SUCCESS"
        and creds.client_cert_cn == charger_id
    )


def _achieved(station: ChargingStation | None, charger_id: str, creds: Credentials) -> int:
    """Return the profile the credentials prove; raise _Failure for wrong credentials."""
    verify = (creds.client_cert_verify or "").upper()
    if verify and verify != "NONE":
        if verify != "SUCCESS":
            raise _Failure(
                "InvalidChargingStationCertificate", f"certificate: {verify}", Refused.FORBIDDEN
            )
        if creds.client_cert_cn != charger_id:
            raise _Failure(
                "InvalidChargingStationCertificate",
                f"certificate CN {creds.client_cert_cn!r} is not the charger id",
                Refused.FORBIDDEN,
            )
        if creds.client_cert_serial and issued_certificate_revoked(serial=creds.client_cert_serial):
            raise _Failure(
                "InvalidChargingStationCertificate",
                f"certificate {creds.client_cert_serial} revoked",
                Refused.FORBIDDEN,
            )
        if creds.tls:
            return SecurityProfile.TLS_CLIENT_CERT
    if creds.malformed_basic:
        raise _Failure("FailedToAuthenticateAtCsms", "malformed Authorization header")
    if not creds.has_basic:
        return SecurityProfile.NONE
    if creds.basic_user != charger_id:
        raise _Failure("FailedToAuthenticateAtCsms", "Basic user is not the charger id")
    hashes = (
        [h for h in (station.password_hash, station.pending_password_hash) if h]
        if (station is not None)
        else []
    )
    if not any(password_matches(creds.basic_password or "", h) for h in hashes):
        raise _Failure("FailedToAuthenticateAtCsms", "wrong password")
    return SecurityProfile.TLS_BASIC if creds.tls else SecurityProfile.BASIC


def _refuse(
    event_type: str,
    reason: str,
    charger_id: str,
    station: ChargingStation | None,
    info: str,
    refused: Refused,
) -> Admission:
    security_event_record(
        source=SecurityEvent.Source.CSMS,
        event_type=event_type,
        charger_id=charger_id,
        station_id=station.pk if station else None,
        tech_info=info[:500],
    )
    return Admission(False, station, reason=reason, refused=refused)


def _basic_reaches(required: int, creds: Credentials) -> bool:
    """Tell whether right HTTP Basic credentials on this handshake would achieve `required`."""
    return required <= (SecurityProfile.TLS_BASIC if creds.tls else SecurityProfile.BASIC)


def connection_admit(*, charger_id: str, credentials: Credentials) -> Admission:
    """Decide whether a websocket claiming `charger_id` may connect; record refusals.

    Every reconnect of a storm comes through here: one cache round trip (lockout and failure
    count together), one station read from a statement built once.
    """
    source = _source(charger_id, credentials)
    locked_key, failures_key = _locked_key(source), _failures_key(source)
    seen = _cache_call(cache.get_many, [locked_key, failures_key]) or {}
    if seen.get(locked_key) and not _certified(charger_id, credentials):
        return Admission(
            False,
            reason="locked out after failed authentications, retry later",
            refused=Refused.LOCKED,
        )
    station = statements.station_claimed(charger_id=charger_id)
    ip = f"from {credentials.peer_ip}"
    try:
        achieved = _achieved(station, charger_id, credentials)
    except _Failure as failure:
        refusal = _refuse(
            failure.event_type,
            "authentication failed",
            charger_id,
            station,
            f"{failure.detail} {ip}",
            failure.refused,
        )
        _count_failure(source, charger_id, station, ip)
        return refusal
    if achieved == SecurityProfile.NONE and not settings.OCPP_ALLOW_UNSECURED:
        return _refuse(
            "UnsecuredConnectionRefused",
            "credentials required (HTTP Basic: charger id and password)",
            charger_id,
            station,
            f"no credentials {ip}",
            Refused.CREDENTIALS,
        )
    if station is None:
        station = station_get_or_register(charger_id=charger_id)
    if achieved < station.security_profile:
        # No credentials where a password would do: the client is asked for one (401).
        missing = achieved == SecurityProfile.NONE and _basic_reaches(
            station.security_profile, credentials
        )
        return _refuse(
            "DowngradeAttempt",
            f"security profile {station.security_profile} required",
            charger_id,
            station,
            f"profile {achieved} offered, {station.security_profile} configured {ip}",
            Refused.CREDENTIALS if missing else Refused.FORBIDDEN,
        )
    if failures_key in seen:  # a success forgives earlier failures
        _cache_call(cache.delete, failures_key)
    return Admission(True, station, profile=achieved)


def _cache_call(operation: Callable[..., Any], *args: Any) -> Any:
    """Run a cache operation; None when the cache (Redis) is unavailable.

    The lockout lives in the cache. While it is down, connections are still judged by their
    credentials, only without the lockout: a Redis outage must not lock every charger out.
    """
    try:
        return operation(*args)
    except Exception:
        logger.warning("cache unavailable: the authentication lockout is off", exc_info=True)
        return None


def _count_failure(source: str, charger_id: str, station: ChargingStation | None, ip: str) -> None:
    if settings.OCPP_AUTH_MAX_FAILURES <= 0:  # 0: no lockout (the failures stay recorded)
        return
    window = settings.OCPP_AUTH_LOCKOUT_SECONDS
    key = _failures_key(source)
    try:
        cache.add(key, 0, window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window)
            failures = 1
        if failures >= settings.OCPP_AUTH_MAX_FAILURES:
            cache.set(_locked_key(source), True, window)
            cache.delete(key)
        else:
            return
    except Exception:
        logger.warning("cache unavailable: a failed authentication went uncounted", exc_info=True)
        return
    security_event_record(
        source=SecurityEvent.Source.CSMS,
        event_type="AuthenticationLockout",
        charger_id=charger_id,
        station_id=station.pk if station else None,
        tech_info=(
            f"{failures} failed authentications {ip}: that address may not connect as this "
            f"charger for {window} s"
        ),
    )
