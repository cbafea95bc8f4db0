"""Who starts each action: the charger, the CSMS, or both (DataTransfer).

The schema sets hold both directions; the specifications say which side sends what.
"""

from __future__ import annotations

import functools

from apps.protocol import schemas
from apps.protocol.versions import V16, V21, V201, OcppVersion

BOTH_WAYS = frozenset({"DataTransfer"})

_FROM_CHARGER_16 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        # The 1.6 security whitepaper's additions.
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)

_FROM_CHARGER_201 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)

_FROM_CHARGER_21 = _FROM_CHARGER_201 | {
    "BatterySwap",
    "ClosePeriodicEventStream",
    "GetCertificateChainStatus",
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "NotifyPeriodicEventStream",
    "NotifyPriorityCharging",
    "NotifySettlement",
    "OpenPeriodicEventStream",
    "PullDynamicScheduleUpdate",
    "ReportDERControl",
    "VatNumberValidation",
}

_FROM_CHARGER = {V16: _FROM_CHARGER_16, V201: _FROM_CHARGER_201, V21: _FROM_CHARGER_21}


@functools.cache
def charger_initiated(version: OcppVersion) -> frozenset[str]:
    """Actions a charger sends to the CSMS (DataTransfer included)."""
    return (_FROM_CHARGER[version] | BOTH_WAYS) & schemas.actions(version)


@functools.cache
def csms_initiated(version: OcppVersion) -> frozenset[str]:
    """Actions the CSMS sends to a charger (DataTransfer included)."""
    return (schemas.actions(version) - _FROM_CHARGER[version]) | (
        BOTH_WAYS & schemas.actions(version)
    )
