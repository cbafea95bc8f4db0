"""Websocket routing: the dashboard's path to its consumer, every other path to the OCPP one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain

from apps.dashboard.consumers import DashboardConsumer

# Where the dashboard's browser script connects.
LIVE_PATH = "/admin/live/"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Tell whether the page that opens this socket is one of ours.

    Ours: the same host (and port) the socket is opened to, or an origin listed in
    CSRF_TRUSTED_ORIGINS (a site reached through another name, e.g. behind a proxy). Not
    ALLOWED_HOSTS: with `*` there it would let any web page open a watcher's socket with the
    watcher's session cookie (cross-site websocket hijacking). A socket without an Origin
    comes from no browser page, and the dashboard is a browser page: refused too.
    """
    origin = _header(scope, b"origin")
    if not origin:
        return False
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    host = _header(scope, b"host")
    if host and parts.netloc.lower() == host.strip().lower():
        return True
    netloc = parts.netloc.lower()
    return any(_trusted(parts.scheme, netloc, t) for t in settings.CSRF_TRUSTED_ORIGINS)


def _trusted(scheme: str, netloc: str, trusted: str) -> bool:
    """Match an origin as Django's CSRF check does: exact, or `scheme://*.domain`."""
    wanted = urlsplit(trusted.strip().lower())
    if wanted.scheme != scheme:
        return False
    if wanted.netloc.startswith("*."):
        return is_same_domain(netloc, wanted.netloc[1:])
    return netloc == wanted.netloc


class SameOriginValidator:
    """Refuse a websocket handshake whose Origin is not ours (see `origin_allowed`)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


dashboard_application = SameOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))


class LivePathRouter:
    """Send the dashboard's path to the dashboard (with sessions), anything else to `default`.

    Chargers keep their own application untouched: no session or cookie handling on the
    charger path.
    """

    def __init__(self, default: Any) -> None:
        self.default = default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("path") == LIVE_PATH:
            return await dashboard_application(scope, receive, send)
        return await self.default(scope, receive, send)
