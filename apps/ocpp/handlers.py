"""The handler registry of each protocol version."""

from __future__ import annotations

from apps.ocpp.v16.handlers import registry as v16_registry
from apps.ocpp.v21.handlers import registry as v21_registry
from apps.ocpp.v201.handlers import registry as v201_registry
from apps.protocol.engine import HandlerRegistry
from apps.protocol.versions import V16, V21, V201, VERSIONS, OcppVersion

_REGISTRIES: dict[OcppVersion, HandlerRegistry] = {
    V16: v16_registry,
    V201: v201_registry,
    V21: v21_registry,
}


def registry_for(version: OcppVersion) -> HandlerRegistry:
    return _REGISTRIES[version]


def served_versions() -> tuple[OcppVersion, ...]:
    """Versions this CSMS negotiates: those with handlers, oldest first."""
    return tuple(version for version in VERSIONS if version in _REGISTRIES)
