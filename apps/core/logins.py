"""Operator logins under django-axes: whose address a failure counts against, and the refusal.

Axes counts failed logins (admin and API token) per user name and address; the settings
(LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_SECONDS) say how many and for how long.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _


@functools.lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy, strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _from_trusted_proxy(ip: str) -> bool:
    proxies = tuple(settings.OCPP_TRUSTED_PROXIES)
    if not proxies:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(proxies))


def client_ip(request: HttpRequest) -> str:
    """Return the address a login comes from (AXES_CLIENT_IP_CALLABLE).

    X-Forwarded-For is believed only from a trusted proxy (OCPP_TRUSTED_PROXIES), and then
    only its last entry, the address that proxy itself saw: the entries before it are the
    client's to invent. Believing a client's header would let anyone pose as another address
    (and lock that address out).
    """
    peer = request.META.get("REMOTE_ADDR", "") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _from_trusted_proxy(peer):
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return peer


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
    return _(
        "Too many failed logins from this address for this user name: try again in "
        "%(minutes)d minutes."
    ) % {"minutes": minutes}


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Answer a locked-out login: 429 with the reason and when to retry (AXES_LOCKOUT_CALLABLE)."""
    response = HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(settings.LOGIN_LOCKOUT_SECONDS)
    return response
