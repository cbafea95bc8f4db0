"""The commands this CSMS supports per OCPP version: each is sent by one registered operation.

Other CSMS-initiated actions of a version can still be sent raw through send_command; only
these are claimed as supported.
"""

from __future__ import annotations

from apps.protocol.versions import V16, V21, V201, OcppVersion

_V16 = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "InstallCertificate",
        "GetLog",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

_V2 = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "CostUpdated",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

# OCPP 2.1's own: the tariff messages (apps/energy/operations.py).
_V21 = _V2 | frozenset(
    {"ChangeTransactionTariff", "ClearTariffs", "GetTariffs", "SetDefaultTariff"}
)

_SUPPORTED = {V16: _V16, V201: _V2, V21: _V21}


def supported_commands(version: OcppVersion) -> frozenset[str]:
    return _SUPPORTED[version]
