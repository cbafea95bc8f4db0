"""What a websocket handshake says about the client: charger id, credentials, TLS, certificate.

Pure functions of the ASGI scope. TLS and a client certificate come either from the server
itself, as the ASGI TLS extension (`scope["extensions"]["tls"]`, which config.edge adds under
uvicorn), or from a proxy that terminated TLS, as headers. Proxy headers (TLS terminated by
nginx, a client certificate it verified, the client's address) are believed only from
addresses in OCPP_TRUSTED_PROXIES; of X-Forwarded-For, only what those proxies appended.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

MAX_CHARGER_ID_LENGTH = 48
# `/ocpp/` and `/ws/` name the endpoint, not a charger.
ENDPOINT_PREFIXES = frozenset({"ocpp", "ws"})


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


@dataclass(frozen=True)
class Credentials:
    peer_ip: str
    basic_user: str | None = None
    basic_password: str | None = None
    malformed_basic: bool = False
    tls: bool = False
    # A client certificate the TLS terminator verified: its verify result and subject CN, and
    # its serial number (lower-case hex, as apps.security keeps the ones its CA issued).
    client_cert_verify: str | None = None
    client_cert_cn: str | None = None
    client_cert_serial: str | None = None

    @property
    def has_basic(self) -> bool:
        return self.basic_user is not None


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def is_trusted_proxy(ip: str, proxies: list[str]) -> bool:
    """True when `ip` is one of the trusted proxies (addresses or networks)."""
    return _trusted(ip, proxies)


def _trusted(ip: str, proxies: list[str]) -> bool:
    if not proxies:  # the common case, and every handshake asks
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(proxies)))


@functools.lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The trusted proxies as networks, parsed once; entries that are none are skipped."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _forwarded_client(forwarded_for: str, proxies: list[str]) -> str:
    """The client's address in an X-Forwarded-For: the last entry no trusted proxy wrote.

    Each proxy appends the address it saw (nginx's `$proxy_add_x_forwarded_for`), after
    whatever the client sent: entries left of the last untrusted one are the client's own
    words. Believing the first let a client pick its address — escape the per-address
    lockout and limits, or have another address locked out.
    """
    entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    for entry in reversed(entries):
        if not _trusted(entry, proxies):
            return entry
    return entries[0] if entries else ""


def client_address(peer_ip: str, forwarded_for: str, trusted_proxies: list[str]) -> str:
    """Return the client's address: the peer's, or the one a trusted proxy forwarded.

    X-Forwarded-For counts only when the peer is a trusted proxy; the charger handshake and
    the operators' logins (apps.core.logins) judge a source the same way.
    """
    if forwarded_for and _trusted(peer_ip, trusted_proxies):
        return _forwarded_client(forwarded_for, trusted_proxies) or peer_ip
    return peer_ip


_CN = re.compile(r"(?:^|[,/])\s*CN\s*=\s*([^,/]+)")

# The verify result of a client certificate the server itself checked, as nginx spells it.
VERIFIED = "SUCCESS"


def _serial_hex(value: str) -> str | None:
    """A serial number in hex (nginx's $ssl_client_serial), as lower-case hex without zeros."""
    try:
        return format(int(value.strip().replace(":", ""), 16), "x")
    except ValueError:
        return None


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if len(values) == 1 else None


def _from_tls_extension(tls: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(verify result, CN, serial) of the client certificate in the ASGI TLS extension.

    The first certificate of `client_cert_chain` is the client's (the spec); without one,
    the RFC 4514 `client_cert_name` alone (a server that only forwards the name).
    """
    chain = list(tls.get("client_cert_chain") or ())
    name = tls.get("client_cert_name")
    if not chain and not name:
        return None, None, None  # no certificate offered
    error = tls.get("client_cert_error")
    verify = VERIFIED if error is None else f"FAILED:{error}"
    try:
        if chain:
            cert = x509.load_pem_x509_certificate(chain[0].encode("ascii"))
            return verify, _common_name(cert.subject), format(cert.serial_number, "x")
        return verify, _common_name(x509.Name.from_rfc4514_string(name)), None
    except (ValueError, UnicodeEncodeError) as exc:
        return f"FAILED:unreadable certificate: {exc}", None, None


def credentials_from_scope(
    scope: dict[str, Any],
    *,
    trusted_proxies: list[str],
    verify_header: str = "x-ssl-client-verify",
    dn_header: str = "x-ssl-client-s-dn",
    serial_header: str = "x-ssl-client-serial",
) -> Credentials:
    """Read the credentials a websocket handshake carries."""
    headers = _headers(scope)
    client = scope.get("client") or ("", 0)
    peer_ip = client[0] or ""
    from_proxy = _trusted(peer_ip, trusted_proxies)
    if from_proxy and headers.get("x-forwarded-for"):
        peer_ip = client_address(peer_ip, headers["x-forwarded-for"], trusted_proxies)
    tls = scope.get("scheme") in ("wss", "https")
    if from_proxy and headers.get("x-forwarded-proto", "").lower() in ("https", "wss"):
        tls = True
    verify = cn = serial = None
    tls_extension = (scope.get("extensions") or {}).get("tls")
    if tls_extension is not None:  # the server terminated TLS itself
        tls = True
        verify, cn, serial = _from_tls_extension(tls_extension)
    elif from_proxy and verify_header in headers:
        verify = headers[verify_header]
        match = _CN.search(headers.get(dn_header, ""))
        cn = match.group(1).strip() if match else None
        serial = _serial_hex(headers.get(serial_header, ""))
    user = password = None
    malformed = False
    authorization = headers.get("authorization", "")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
                user, separator, password = decoded.partition(":")
                if not separator:
                    user = password = None
                    malformed = True
            except (binascii.Error, UnicodeDecodeError):
                malformed = True
        else:
            malformed = True
    return Credentials(
        peer_ip=peer_ip,
        basic_user=user,
        basic_password=password,
        malformed_basic=malformed,
        tls=tls,
        client_cert_verify=verify,
        client_cert_cn=cn,
        client_cert_serial=serial,
    )
