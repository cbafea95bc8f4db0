"""Websocket routing for chargers: every path that reaches it is a charger connection, and the
consumer reads the id from it (config/asgi.py sends the dashboard's /admin/live/ elsewhere)."""

from __future__ import annotations

from apps.ocpp.consumers import OcppConsumer

websocket_application = OcppConsumer.as_asgi()
