"""Websocket routing: the dashboard's path to its consumer, every other path to the OCPP one."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator

from apps.dashboard.consumers import DashboardConsumer

# Where the dashboard's browser script connects.
LIVE_PATH = "/admin/live/"

dashboard_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(DashboardConsumer.as_asgi())
)


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
