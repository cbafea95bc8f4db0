"""The control center's live events: one small type per thing that changed, and its wire text.

A service builds the event where it publishes it (`apps.core.live.publish(event)`); the
event is serialised here, once, after the commit and only when someone watches; the
dashboard's consumer forwards that text to the browsers unchanged. The browser sees
`{"kind": <the type's kind>, "data": {<its fields, in order>}}` (static/control_center/live.js).

Events carry plain values (ids, strings, numbers, datetimes), never model instances: this
module sits in the lowest layer and imports no other app. Several types may share a wire
kind (a station's connect and disconnect are both `station`); their fields are what the
browser reads for that kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import orjson


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveEvent:
    """A change the open dashboards are told about; `kind` names it on the wire."""

    kind: ClassVar[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class StationConnected(LiveEvent):
    """A station's socket was accepted, on connection `connection`."""

    kind: ClassVar[str] = "station"
    station: int
    charger_id: str
    online: bool = field(default=True, init=False)
    connection: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StationDisconnected(LiveEvent):
    """A station's connection `connection` ended (a newer one may have replaced it)."""

    kind: ClassVar[str] = "station"
    station: int
    online: bool = field(default=False, init=False)
    connection: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StationHeartbeat(LiveEvent):
    """A station sent a Heartbeat."""

    kind: ClassVar[str] = "heartbeat"
    station: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorStatusChanged(LiveEvent):
    """A connector's current status, after a status report (connector 0: the whole station)."""

    kind: ClassVar[str] = "connector"
    station: int
    connector: int
    status: str
    error_code: str
    at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStarted(LiveEvent):
    """A session began (OCPP 1.6 StartTransaction); `transaction` is its primary key."""

    kind: ClassVar[str] = "transaction"
    station: int
    connector: int
    transaction: int
    transaction_id: str
    id_tag: str
    meter_start_wh: int
    started_at: datetime
    active: bool = field(default=True, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStopped(LiveEvent):
    """A session ended (OCPP 1.6 StopTransaction); `transaction` is None for an unknown one."""

    kind: ClassVar[str] = "transaction"
    station: int
    transaction: int | None
    transaction_id: str
    meter_stop_wh: int
    stopped_at: datetime
    reason: str
    active: bool = field(default=False, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEventRecorded(LiveEvent):
    """An OCPP 2.x TransactionEvent was applied: the session as it stands, its latest figures."""

    kind: ClassVar[str] = "transaction"
    station: int
    connector: int | None
    transaction: int
    transaction_id: str
    id_tag: str
    meter_start_wh: int | None
    started_at: datetime | None
    stopped_at: datetime | None
    reason: str
    active: bool
    power_w: float | None
    register_wh: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterValuesRecorded(LiveEvent):
    """A station reported meter values: the power (W) and energy register (Wh) they show."""

    kind: ClassVar[str] = "meter"
    station: int
    connector: int
    transaction_id: str | None
    power_w: float | None
    register_wh: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFinished(LiveEvent):
    """A command to a station reached its final status."""

    kind: ClassVar[str] = "command"
    command: int
    station: int
    action: str
    status: str
    error_code: str
    error_description: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityEventRecorded(LiveEvent):
    """A security event was kept; `tech_info` is cut to TECH_INFO_LENGTH characters."""

    kind: ClassVar[str] = "security"
    TECH_INFO_LENGTH: ClassVar[int] = 200
    event: int
    station: int | None
    charger_id: str
    source: str
    event_type: str
    tech_info: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CardScanned(LiveEvent):
    """A card was read by this node's RFID scanner and checked.

    `result` is the authorisation status (Accepted, Blocked, Expired, Invalid, …); `action`
    what the scan did on the local charger: "started", "stopped", "none" or "failed";
    `station` that charger's id ("" when none), `detail` a short reason for the operator.
    """

    kind: ClassVar[str] = "card"
    scan: int
    uid: str
    result: str
    action: str
    station: str
    detail: str
    at: datetime


def serialise(event: LiveEvent) -> str:
    """Return the wire text of `event`: `{"kind": ..., "data": {its fields}}`.

    The one place an event is serialised. orjson writes the dataclass's fields in order and
    datetimes as ISO 8601; anything else it does not know is written as its `str()`.
    """
    return orjson.dumps({"kind": event.kind, "data": event}, default=str).decode()
