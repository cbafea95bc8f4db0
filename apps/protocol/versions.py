"""The OCPP versions we speak, named by their websocket subprotocol."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OcppVersion:
    subprotocol: str
    package: str  # the `ocpp` package's module holding this version's schemas
    request_suffix: str  # schema file suffix of a request: "" (1.6) or "Request" (2.x)
    label: str

    def __str__(self) -> str:
        return self.label


V16 = OcppVersion("ocpp1.6", "v16", "", "1.6")
V201 = OcppVersion("ocpp2.0.1", "v201", "Request", "2.0.1")
V21 = OcppVersion("ocpp2.1", "v21", "Request", "2.1")

VERSIONS: tuple[OcppVersion, ...] = (V16, V201, V21)
BY_SUBPROTOCOL: dict[str, OcppVersion] = {v.subprotocol: v for v in VERSIONS}


def negotiate(
    offered: list[str], preferred: str = "", supported: tuple[OcppVersion, ...] = VERSIONS
) -> OcppVersion | None:
    """Pick the station's preferred version if offered, else the newest offered we support."""
    by_name = {version.subprotocol: version for version in supported}
    if preferred in by_name and preferred in offered:
        return by_name[preferred]
    for version in reversed(supported):
        if version.subprotocol in offered:
            return version
    return None
