"""Reads of a station's configuration: 1.6 keys and 2.x device-model variables together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.chargers.models import ChargingStation, ConfigurationKey
from apps.devicemodel.models import DeviceVariable


@dataclass(frozen=True)
class ConfigurationEntry:
    """One configuration value of a station, whatever its OCPP version calls it."""

    key: str  # 1.6 key, or 2.x `Component[inst]@evse/Variable[inst]` (Actual attribute)
    value: str | None
    readonly: bool
    known: bool
    status: str  # the answer to the last change or read of it
    source: str  # "1.6 key" or "2.x variable"
    updated_at: datetime


def station_configuration(*, station: ChargingStation) -> list[ConfigurationEntry]:
    """Return the station's 1.6 configuration keys and 2.x variables together, by key."""
    entries = [
        ConfigurationEntry(
            key=row.key,
            value=row.value,
            readonly=row.readonly,
            known=row.known,
            status=row.last_change_status,
            source="1.6 key",
            updated_at=row.updated_at,
        )
        for row in ConfigurationKey.objects.filter(station=station)
    ]
    entries += [
        ConfigurationEntry(
            key=row.path,
            value=row.value,
            readonly=row.mutability == "ReadOnly",
            known=row.last_status not in ("UnknownComponent", "UnknownVariable"),
            status=row.last_status,
            source="2.x variable",
            updated_at=row.updated_at,
        )
        for row in DeviceVariable.objects.filter(station=station, attribute_type="Actual")
    ]
    return sorted(entries, key=lambda entry: entry.key)
