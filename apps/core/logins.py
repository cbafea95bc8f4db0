"""Operator logins under django-axes: whose address a failure counts against, and the refusal.

Axes counts failed logins (admin and API token) per user name and address; the settings
(LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_SECONDS) say how many and for how long.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from apps.protocol.handshake import client_address


def client_ip(request: HttpRequest) -> str:
    """Return the address a login comes from (AXES_CLIENT_IP_CALLABLE).

    X-Forwarded-For is believed only from a trusted proxy (OCPP_TRUSTED_PROXIES), and then
    only its last entry no trusted proxy wrote: the entries before it are the client's to
    invent. Believing a client's header would let anyone pose as another address (and lock
    that address out). The same rule as a charger's handshake (protocol.handshake).
    """
    return client_address(
        request.META.get("REMOTE_ADDR", "") or "",
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        list(settings.OCPP_TRUSTED_PROXIES),
    )


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
