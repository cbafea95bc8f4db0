"""Websocket routing: every path is a charger connection; the consumer reads the id."""

from __future__ import annotations

from apps.ocpp.consumers import OcppConsumer

websocket_application = OcppConsumer.as_asgi()
