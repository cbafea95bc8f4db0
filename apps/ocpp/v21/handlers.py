"""OCPP 2.1 charging station → CSMS actions: the 2.0.1 handlers, validated by 2.1 schemas."""

from __future__ import annotations

from apps.ocpp.v201.handlers import registry as v201_registry
from apps.protocol.engine import HandlerRegistry

registry = HandlerRegistry()
registry.include(v201_registry)
