"""A simulated charger's settings: 1.6 configuration keys and the 2.x device model.

One store, two addressings. OCPP 1.6 names a key (`HeartbeatInterval`); OCPP 2.x names a
component (optionally of an EVSE) and a variable (`OCPPCommCtrlr` / `HeartbeatInterval`).
The definitions are shared by every charger of a kind; a charger keeps only the values that
differ from the defaults, so thousands of simulated chargers stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

Kind = Literal["integer", "boolean", "string", "MemberList", "hex"]
# (component, EVSE id or None, variable); 1.6 keys have component "" and no EVSE.
Address = tuple[str, int | None, str]

# Measurands the simulated meter can sample.
MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "SoC",
)
DEFAULT_MEASURANDS = ",".join(MEASURANDS)


class Verdict:
    """Outcomes of a write, named as OCPP 2.x SetVariableStatus (1.6 maps them)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE = "NotSupportedAttributeType"


@dataclass(frozen=True)
class Setting:
    component: str
    variable: str
    default: str
    kind: Kind = "string"
    readonly: bool = False
    write_only: bool = False  # secrets: can be set, never read back
    evse: int | None = None
    members: tuple[str, ...] = ()  # the values a MemberList may hold

    @property
    def address(self) -> Address:
        return (self.component, self.evse, self.variable)

    @property
    def mutability(self) -> str:
        if self.readonly:
            return "ReadOnly"
        return "WriteOnly" if self.write_only else "ReadWrite"

    def clean(self, value: str) -> str | None:
        """Return `value` normalised for this setting, or None when it is not acceptable."""
        value = value.strip()
        if self.kind == "integer":
            try:
                number = int(value)
            except ValueError:
                return None
            return str(number) if number >= 0 else None
        if self.kind == "boolean":
            lowered = value.lower()
            return lowered if lowered in ("true", "false") else None
        if self.kind == "hex":
            # OCPP 1.6 AuthorizationKey (security whitepaper): the hex digits of the
            # password's bytes; the charger keeps, and later sends, the bytes themselves.
            try:
                return bytes.fromhex(value).decode()
            except ValueError:  # not hex, or bytes that are no text
                return None
        if self.kind == "MemberList":
            items = [item.strip() for item in value.split(",") if item.strip()]
            if any(item not in self.members for item in items):
                return None
            return ",".join(items)
        return value


def _v16(name: str, default: str, kind: Kind = "string", **options: object) -> Setting:
    return Setting("", name, default, kind, **options)  # type: ignore[arg-type]


# Logical names the charger reads, and where each version keeps them.
HEARTBEAT_INTERVAL = "heartbeat_interval"
METER_INTERVAL = "meter_interval"
SAMPLED_MEASURANDS = "sampled_measurands"
AUTHORIZE_REMOTE_START = "authorize_remote_start"
STOP_ON_INVALID_ID = "stop_on_invalid_id"
LOCAL_LIST_ENABLED = "local_list_enabled"
PASSWORD = "password"
NUMBER_OF_CONNECTORS = "number_of_connectors"
PING_INTERVAL = "ping_interval"

V16_SETTINGS: tuple[Setting, ...] = (
    _v16("AllowOfflineTxForUnknownId", "false", "boolean"),
    _v16("AuthorizationCacheEnabled", "true", "boolean"),
    _v16("AuthorizationKey", "", "hex", write_only=True),
    _v16("AuthorizeRemoteTxRequests", "false", "boolean"),
    _v16("ClockAlignedDataInterval", "0", "integer"),
    _v16("ConnectionTimeOut", "60", "integer"),
    _v16("ConnectorPhaseRotation", "0.RST"),
    _v16("GetConfigurationMaxKeys", "50", "integer", readonly=True),
    _v16("HeartbeatInterval", "300", "integer"),
    _v16("LocalAuthListEnabled", "true", "boolean"),
    _v16("LocalAuthListMaxLength", "1000", "integer", readonly=True),
    _v16("LocalAuthorizeOffline", "true", "boolean"),
    _v16("LocalPreAuthorize", "false", "boolean"),
    _v16(
        "MeterValuesAlignedData",
        "Energy.Active.Import.Register",
        "MemberList",
        members=MEASURANDS,
    ),
    _v16("MeterValuesSampledData", DEFAULT_MEASURANDS, "MemberList", members=MEASURANDS),
    _v16("MeterValueSampleInterval", "60", "integer"),
    _v16("NumberOfConnectors", "1", "integer", readonly=True),
    _v16("ReserveConnectorZeroSupported", "false", "boolean", readonly=True),
    _v16("ResetRetries", "3", "integer"),
    _v16("SecurityProfile", "0", "integer"),
    _v16("SendLocalListMaxLength", "1000", "integer", readonly=True),
    _v16("StopTransactionOnEVSideDisconnect", "true", "boolean"),
    _v16("StopTransactionOnInvalidId", "true", "boolean"),
    _v16("StopTxnAlignedData", "", "MemberList", members=MEASURANDS),
    _v16("StopTxnSampledData", "Energy.Active.Import.Register", "MemberList", members=MEASURANDS),
    _v16(
        "SupportedFeatureProfiles",
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,RemoteTrigger",
        readonly=True,
    ),
    _v16("TransactionMessageAttempts", "3", "integer"),
    _v16("TransactionMessageRetryInterval", "60", "integer"),
    _v16("UnlockConnectorOnEVSideDisconnect", "true", "boolean"),
    _v16("WebSocketPingInterval", "0", "integer"),
)
V16_NAMES: dict[str, Address] = {
    HEARTBEAT_INTERVAL: ("", None, "HeartbeatInterval"),
    METER_INTERVAL: ("", None, "MeterValueSampleInterval"),
    SAMPLED_MEASURANDS: ("", None, "MeterValuesSampledData"),
    AUTHORIZE_REMOTE_START: ("", None, "AuthorizeRemoteTxRequests"),
    STOP_ON_INVALID_ID: ("", None, "StopTransactionOnInvalidId"),
    LOCAL_LIST_ENABLED: ("", None, "LocalAuthListEnabled"),
    PASSWORD: ("", None, "AuthorizationKey"),
    NUMBER_OF_CONNECTORS: ("", None, "NumberOfConnectors"),
    PING_INTERVAL: ("", None, "WebSocketPingInterval"),
}

V2_SETTINGS: tuple[Setting, ...] = (
    Setting("AuthCacheCtrlr", "Enabled", "true", "boolean"),
    Setting("AuthCtrlr", "AuthorizeRemoteStart", "false", "boolean"),
    Setting("AuthCtrlr", "Enabled", "true", "boolean"),
    Setting("AuthCtrlr", "LocalAuthorizeOffline", "true", "boolean"),
    Setting("AuthCtrlr", "LocalPreAuthorize", "false", "boolean"),
    Setting("AlignedDataCtrlr", "Interval", "0", "integer"),
    Setting(
        "AlignedDataCtrlr",
        "Measurands",
        "Energy.Active.Import.Register",
        "MemberList",
        members=MEASURANDS,
    ),
    Setting("ClockCtrlr", "TimeSource", "Heartbeat", readonly=True),
    Setting("DeviceDataCtrlr", "ItemsPerMessage", "50", "integer", readonly=True),
    Setting("DeviceDataCtrlr", "BytesPerMessage", "65000", "integer", readonly=True),
    Setting("LocalAuthListCtrlr", "Enabled", "true", "boolean"),
    Setting("LocalAuthListCtrlr", "EntriesMax", "1000", "integer", readonly=True),
    Setting("OCPPCommCtrlr", "HeartbeatInterval", "300", "integer"),
    Setting("OCPPCommCtrlr", "MessageAttempts", "3", "integer"),
    Setting("OCPPCommCtrlr", "MessageAttemptInterval", "60", "integer"),
    Setting("OCPPCommCtrlr", "ResetRetries", "3", "integer"),
    Setting("OCPPCommCtrlr", "WebSocketPingInterval", "0", "integer"),
    Setting("ReservationCtrlr", "Enabled", "true", "boolean"),
    Setting("SampledDataCtrlr", "TxEndedInterval", "0", "integer"),
    Setting(
        "SampledDataCtrlr",
        "TxEndedMeasurands",
        "Energy.Active.Import.Register",
        "MemberList",
        members=MEASURANDS,
    ),
    Setting("SampledDataCtrlr", "TxUpdatedInterval", "60", "integer"),
    Setting(
        "SampledDataCtrlr",
        "TxUpdatedMeasurands",
        DEFAULT_MEASURANDS,
        "MemberList",
        members=MEASURANDS,
    ),
    Setting("SecurityCtrlr", "BasicAuthPassword", "", write_only=True),
    Setting("SecurityCtrlr", "Identity", "", readonly=True),
    Setting("SecurityCtrlr", "SecurityProfile", "1", "integer", readonly=True),
    Setting("TxCtrlr", "EVConnectionTimeOut", "60", "integer"),
    Setting("TxCtrlr", "StopTxOnInvalidId", "true", "boolean"),
    Setting("TxCtrlr", "TxStartPoint", "Authorized", readonly=True),
    Setting("TxCtrlr", "TxStopPoint", "Authorized,EVConnected", readonly=True),
)
V2_NAMES: dict[str, Address] = {
    HEARTBEAT_INTERVAL: ("OCPPCommCtrlr", None, "HeartbeatInterval"),
    METER_INTERVAL: ("SampledDataCtrlr", None, "TxUpdatedInterval"),
    SAMPLED_MEASURANDS: ("SampledDataCtrlr", None, "TxUpdatedMeasurands"),
    AUTHORIZE_REMOTE_START: ("AuthCtrlr", None, "AuthorizeRemoteStart"),
    STOP_ON_INVALID_ID: ("TxCtrlr", None, "StopTxOnInvalidId"),
    LOCAL_LIST_ENABLED: ("LocalAuthListCtrlr", None, "Enabled"),
    PASSWORD: ("SecurityCtrlr", None, "BasicAuthPassword"),
    PING_INTERVAL: ("OCPPCommCtrlr", None, "WebSocketPingInterval"),
}


@cache
def _definitions(v16: bool, evses: int) -> dict[Address, Setting]:
    if v16:
        return {setting.address: setting for setting in V16_SETTINGS}
    settings = list(V2_SETTINGS)
    for evse in range(1, evses + 1):
        settings += [
            Setting("EVSE", "AvailabilityState", "Available", readonly=True, evse=evse),
            Setting("EVSE", "Power", "22080", "integer", readonly=True, evse=evse),
            Setting("EVSE", "SupplyPhases", "3", "integer", readonly=True, evse=evse),
        ]
    return {setting.address: setting for setting in settings}


class KeyStore:
    """The settings of one charger: shared definitions, its own values."""

    def __init__(self, *, v16: bool, evses: int, initial: dict[str, str] | None = None) -> None:
        self.v16 = v16
        self.definitions = _definitions(v16, evses)
        self.names = V16_NAMES if v16 else V2_NAMES
        self.components = frozenset(address[0] for address in self.definitions)
        self.values: dict[Address, str] = {}
        for name, value in (initial or {}).items():
            if name in self.names:
                self.values[self.names[name]] = value
        if v16:
            self.values[self.names[NUMBER_OF_CONNECTORS]] = str(evses)

    # --- what the charger reads -----------------------------------------------------------

    def get(self, name: str) -> str:
        """Return the value of a logical setting (see the *_INTERVAL etc. names)."""
        return self.at(self.names[name])

    def at(self, address: Address) -> str:
        """Return the value of the setting at `address` (which must exist)."""
        return self.values.get(address, self.definitions[address].default)

    def get_int(self, name: str) -> int:
        return int(self.get(name) or 0)

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def set(self, name: str, value: str) -> None:
        """Set a logical setting from the charger's own side (boot interval, live state)."""
        self.values[self.names[name]] = value

    def set_live(self, address: Address, value: str) -> None:
        if address in self.definitions:
            self.values[address] = value

    # --- what the CSMS reads and writes ---------------------------------------------------

    def lookup(self, component: str, evse: int | None, variable: str) -> Setting | str:
        """Return the setting at an address, or the verdict saying why there is none."""
        setting = self.definitions.get((component, evse, variable))
        if setting is not None:
            return setting
        if component not in self.components:
            return Verdict.UNKNOWN_COMPONENT
        return Verdict.UNKNOWN_VARIABLE

    def value_of(self, setting: Setting) -> str:
        return self.values.get(setting.address, setting.default)

    def read(self, component: str, evse: int | None, variable: str) -> tuple[str, str | None]:
        """Return (verdict, value) for reading a setting; write-only ones are Rejected."""
        setting = self.lookup(component, evse, variable)
        if isinstance(setting, str):
            return setting, None
        if setting.write_only:
            return Verdict.REJECTED, None
        return Verdict.ACCEPTED, self.value_of(setting)

    def write(self, component: str, evse: int | None, variable: str, value: str) -> str:
        """Set a setting as the CSMS asks; return the verdict."""
        setting = self.lookup(component, evse, variable)
        if isinstance(setting, str):
            return setting
        if setting.readonly:
            return Verdict.REJECTED
        cleaned = setting.clean(value)
        if cleaned is None:
            return Verdict.REJECTED
        self.values[setting.address] = cleaned
        return Verdict.ACCEPTED

    def readable(self) -> Iterator[Setting]:
        """Every setting the CSMS may see listed (write-only ones included, without value)."""
        return iter(self.definitions.values())
