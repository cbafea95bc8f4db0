"""Writes about charging stations: connection, boot, heartbeat, status, reports."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction

from apps.chargers import statements
from apps.chargers.models import (
    ChargingStation,
    ConfigurationKey,
    Connector,
    DataTransfer,
    RegistrationStatus,
    StationReport,
    StatusEvent,
)
from apps.core.events import (
    ConnectorStatusChanged,
    StationConnected,
    StationDisconnected,
    StationHeartbeat,
)
from apps.core.live import publish
from apps.core.processes import processes_dead
from apps.core.timeutil import utcnow

logger = logging.getLogger(__name__)

_UNKNOWN_STATION_STATUS = {
    "pending": RegistrationStatus.PENDING,
    "accept": RegistrationStatus.ACCEPTED,
    "reject": RegistrationStatus.REJECTED,
}


def station_get_or_register(*, charger_id: str) -> ChargingStation:
    """Return the station with `charger_id`, recording an unknown one per OCPP_UNKNOWN_STATIONS."""
    status = _UNKNOWN_STATION_STATUS.get(
        settings.OCPP_UNKNOWN_STATIONS.lower(), RegistrationStatus.PENDING
    )
    station, _ = ChargingStation.objects.get_or_create(
        charger_id=charger_id, defaults={"registration_status": status}
    )
    return station


def station_connect(
    *,
    station: ChargingStation,
    ocpp_version: str,
    connection_id: str = "",
    connected_by: str = "",
) -> ChargingStation:
    """Mark the station connected, on `connection_id` held by server process `connected_by`,
    with the negotiated protocol version.

    One UPDATE of the connection fields from a statement built once: every reconnect of a
    storm runs this.
    """
    now = utcnow()
    station.is_connected = True
    station.connection_id = connection_id
    station.connected_by = connected_by
    station.connected_at = now
    station.last_seen_at = now
    station.ocpp_version = ocpp_version
    statements.station_write_fields(station=station, fields=_CONNECT_FIELDS)
    publish(
        StationConnected(
            station=station.pk, charger_id=station.charger_id, connection=connection_id, at=now
        )
    )
    return station


_CONNECT_FIELDS = [
    "is_connected",
    "connection_id",
    "connected_by",
    "connected_at",
    "last_seen_at",
    "ocpp_version",
]


def station_disconnect(*, station_id: int, connection_id: str = "") -> None:
    """Mark the station disconnected, unless a newer connection has taken over meanwhile."""
    now = utcnow()
    statements.station_mark_disconnected(station_id=station_id, connection_id=connection_id, at=now)
    publish(StationDisconnected(station=station_id, connection=connection_id, at=now))


def stations_release(*, process_ids: Iterable[str]) -> int:
    """Mark disconnected the stations held by server processes `process_ids` (dead or ending).

    Each is told to the dashboards as a disconnect of its connection; a station that another
    process took over meanwhile is not touched (its holder is another). Return how many.
    """
    ids = [pid for pid in process_ids if pid]
    if not ids:
        return 0
    held = ChargingStation.objects.filter(is_connected=True, connected_by__in=ids)
    stations = list(held.values_list("pk", "charger_id", "connection_id"))
    if not stations:
        return 0
    now = utcnow()
    released = held.update(is_connected=False, disconnected_at=now, last_seen_at=now)
    for pk, charger_id, connection_id in stations:
        logger.info("%s: disconnected (its server process is gone)", charger_id)
        publish(StationDisconnected(station=pk, connection=connection_id, at=now))
    return released


def stations_release_dead() -> int:
    """Mark disconnected the stations whose server process is dead (the sweep's part)."""
    holders = set(
        ChargingStation.objects.filter(is_connected=True)
        .exclude(connected_by="")
        .values_list("connected_by", flat=True)
        .distinct()
    )
    # Holders first, then whether they live: a process registers before it holds anything.
    return stations_release(process_ids=processes_dead(process_ids=holders))


def station_touch(*, station_id: int, seen_at: datetime) -> None:
    ChargingStation.objects.filter(pk=station_id).update(last_seen_at=seen_at)


@dataclass(frozen=True)
class StationIdentity:
    vendor: str
    model: str
    serial_number: str = ""
    charge_box_serial_number: str = ""
    firmware_version: str = ""
    iccid: str = ""
    imsi: str = ""
    meter_type: str = ""
    meter_serial_number: str = ""


@dataclass(frozen=True)
class StationBoot:
    """What a BootNotification answer needs: the station's registration, the boot's time."""

    registration_status: str
    free_charging: bool
    booted_at: datetime
    # The heartbeat interval the station was configured with; None: the server's default.
    heartbeat_interval: int | None = None


_IDENTITY_FIELDS = [field.name for field in fields(StationIdentity)]
_BOOT_ANSWER_FIELDS = ["registration_status", "free_charging", "heartbeat_interval"]


def station_boot(*, station_id: int, identity: StationIdentity, reason: str = "") -> StationBoot:
    """Store what the station says of itself in BootNotification; return its registration.

    One UPDATE ... RETURNING from a statement built once: no row lock and no
    read-modify-write of the whole row, so an operator's concurrent change of other fields
    (the registration among them) is neither lost nor overwritten.
    """
    now = utcnow()
    values: dict[str, object] = {name: getattr(identity, name) for name in _IDENTITY_FIELDS}
    # A boot is a sign of life as good as a heartbeat: the station page shows it at once,
    # not a heartbeat interval later.
    values.update(
        last_boot_reason=reason, last_boot_at=now, last_seen_at=now, last_heartbeat_at=now
    )
    row = statements.station_write_boot(
        station_id=station_id, values=values, answer_fields=_BOOT_ANSWER_FIELDS
    )
    if row is None:
        raise ChargingStation.DoesNotExist(f"no station {station_id}")
    publish(StationHeartbeat(station=station_id, at=now))
    return StationBoot(
        registration_status=row[0],
        free_charging=bool(row[1]),
        booted_at=now,
        heartbeat_interval=row[2],
    )


def station_heartbeat(*, station_id: int) -> datetime:
    now = utcnow()
    ChargingStation.objects.filter(pk=station_id).update(last_heartbeat_at=now, last_seen_at=now)
    publish(StationHeartbeat(station=station_id, at=now))
    return now


def station_set_registration(*, station: ChargingStation, status: str) -> ChargingStation:
    """Approve (Accepted) or refuse (Rejected) a station; it learns it at its next boot."""
    station.registration_status = status
    station.save(update_fields=["registration_status"])
    return station


@dataclass(frozen=True)
class ConnectorStatus:
    connector_id: int
    status: str
    error_code: str = ""
    info: str = ""
    vendor_id: str = ""
    vendor_error_code: str = ""
    timestamp: datetime | None = None
    evse_connector_id: int | None = None


def _is_applied(connector: Connector, report: ConnectorStatus) -> bool:
    """Whether `report` is the one the connector holds (a report without a timestamp never
    is: it cannot be told from a new one)."""
    return (
        report.timestamp is not None
        and connector.status_at == report.timestamp
        and connector.status == report.status
        and connector.error_code == report.error_code
        and connector.info == report.info
        and connector.vendor_id == report.vendor_id
        and connector.vendor_error_code == report.vendor_error_code
    )


def connector_status_update(*, station_id: int, report: ConnectorStatus) -> Connector:
    """Record a status report; the connector's current status follows the newest report.

    A report older than the one already applied (a replay after a reconnect) is kept in
    the history but does not overwrite the current status. The very report the connector
    holds, sent again (its answer was lost: the charger sends a frame again until it gets
    one), adds no second row to the history.
    """
    with transaction.atomic():
        connector, _ = Connector.objects.select_for_update().get_or_create(
            station_id=station_id, connector_id=report.connector_id
        )
        if not _is_applied(connector, report):
            fields = {k: v for k, v in report.__dict__.items() if k != "evse_connector_id"}
            StatusEvent.objects.create(station_id=station_id, **fields)
        reported_at = report.timestamp or utcnow()
        if connector.status_at is None or reported_at >= connector.status_at:
            connector.status = report.status
            connector.error_code = report.error_code
            connector.info = report.info
            connector.vendor_id = report.vendor_id
            connector.vendor_error_code = report.vendor_error_code
            connector.status_at = reported_at
            if report.evse_connector_id is not None:
                connector.evse_connector_id = report.evse_connector_id
            connector.save()
    publish(
        ConnectorStatusChanged(
            station=station_id,
            connector=connector.connector_id,
            status=connector.status,
            error_code=connector.error_code,
            at=connector.status_at,
        )
    )
    return connector


def connector_get_or_create(*, station_id: int, connector_id: int) -> Connector:
    connector, _ = Connector.objects.get_or_create(station_id=station_id, connector_id=connector_id)
    return connector


def station_report_add(*, station_id: int, kind: str, status: str) -> StationReport:
    """Record firmware or diagnostics progress and keep the latest on the station."""
    now = utcnow()
    with transaction.atomic():
        report = StationReport.objects.create(station_id=station_id, kind=kind, status=status)
        ChargingStation.objects.filter(pk=station_id).update(
            **{f"{kind}_status": status, f"{kind}_status_at": now}
        )
    return report


def connector_set_availability(
    *, station_id: int, connector_id: int, availability: str, scheduled: bool
) -> None:
    """Record an accepted ChangeAvailability; connector 0 means the whole station."""
    connector_get_or_create(station_id=station_id, connector_id=connector_id)
    targets = Connector.objects.filter(station_id=station_id)
    if connector_id != 0:
        targets = targets.filter(connector_id=connector_id)
    targets.update(availability=availability, availability_scheduled=scheduled)


# The largest interval a BootNotification answer carries (an OCPP integer) and the column holds.
MAX_HEARTBEAT_INTERVAL = 2**31 - 1


def station_heartbeat_interval_configured(*, station_id: int, value: str) -> bool:
    """Remember the heartbeat interval a station took (ChangeConfiguration, SetVariables).

    Its next BootNotification answer carries it instead of OCPP_HEARTBEAT_INTERVAL: the
    station adopts the interval of that answer, which would undo the change. A value that
    is not a whole number of seconds is not kept. Returns whether it was kept.
    """
    try:
        seconds = int(value.strip())
    except ValueError:
        return False
    if not 0 <= seconds <= MAX_HEARTBEAT_INTERVAL:
        return False
    ChargingStation.objects.filter(pk=station_id).update(heartbeat_interval=seconds)
    return True


def configuration_key_changed(*, station_id: int, key: str, value: str, status: str) -> None:
    """Record a ChangeConfiguration answer; the value is kept when the station took it."""
    row, _ = ConfigurationKey.objects.get_or_create(station_id=station_id, key=key)
    row.last_change_status = status
    if status in ("Accepted", "RebootRequired"):
        row.value = value
        row.known = True
        # 1.6 keys are case-insensitive (CiString50Type).
        if key.lower() == "heartbeatinterval":
            station_heartbeat_interval_configured(station_id=station_id, value=value)
    elif status == "NotSupported":
        row.known = False
    row.save()


def configuration_store(*, station_id: int, keys: list[dict[str, Any]], unknown: list[str]) -> None:
    """Store a GetConfiguration answer: every key with value and read-only flag."""
    for item in keys:
        ConfigurationKey.objects.update_or_create(
            station_id=station_id,
            key=item["key"],
            defaults={
                "value": item.get("value"),
                "readonly": item["readonly"],
                "known": True,
            },
        )
    for key in unknown:
        ConfigurationKey.objects.update_or_create(
            station_id=station_id, key=key, defaults={"known": False}
        )


def station_set_local_list_version(*, station_id: int, version: int) -> None:
    ChargingStation.objects.filter(pk=station_id).update(local_list_version=version)


def data_transfer_sent(
    *,
    station_id: int,
    vendor_id: str,
    message_id: str,
    data: Any,
    status: str,
    response_data: Any = None,
) -> DataTransfer:
    """Keep a DataTransfer we sent with the station's answer."""
    return DataTransfer.objects.create(
        station_id=station_id,
        direction=DataTransfer.Direction.TO_STATION,
        vendor_id=vendor_id,
        message_id=message_id,
        data=as_text(data),
        status=status,
        response_data="" if response_data is None else as_text(response_data),
    )


def as_text(data: Any) -> str:
    """Return DataTransfer data as stored: strings as they are, anything else as JSON."""
    return data if isinstance(data, str) else orjson.dumps(data).decode()


def data_transfer_receive(
    *, station_id: int, vendor_id: str, message_id: str, data: Any
) -> DataTransfer:
    """Keep a vendor DataTransfer; vendors not listed in OCPP_DATA_TRANSFER_VENDORS are unknown."""
    known = vendor_id in settings.OCPP_DATA_TRANSFER_VENDORS
    return DataTransfer.objects.create(
        station_id=station_id,
        direction=DataTransfer.Direction.FROM_STATION,
        vendor_id=vendor_id,
        message_id=message_id,
        data=as_text(data),
        status="Accepted" if known else "UnknownVendorId",
    )
