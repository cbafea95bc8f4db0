"""OCPP-J CALLERROR codes, spelled as each protocol version spells them."""

from __future__ import annotations

from enum import StrEnum

from apps.protocol.versions import V16, V201, OcppVersion


class ErrorCode(StrEnum):
    """Version-neutral names; `spell()` gives the wire spelling for a version."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"

    def spell(self, version: OcppVersion) -> str:
        """Return the code as `version` writes it on the wire."""
        if self is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION and version in (V16, V201):
            # OCPP-J 1.6 and 2.0.1 both carry the typo; 2.1 fixed it.
            return "OccurenceConstraintViolation"
        if version is V16:
            if self is ErrorCode.FORMAT_VIOLATION:
                # OCPP-J 1.6 §4.2.3 names it FormationViolation, and its errata keep the
                # name ("known issues that will not be fixed"); 2.x fixed it.
                return "FormationViolation"
            # OCPP-J 1.6 has neither of these 2.x codes: ProtocolError stands in.
            if self is ErrorCode.RPC_FRAMEWORK_ERROR:
                return "ProtocolError"
            if self is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED:
                return "ProtocolError"
        return self.value


class OcppError(Exception):
    """A problem to answer with a CALLERROR."""

    def __init__(self, code: ErrorCode, description: str, details: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.details = details or {}


class FrameError(OcppError):
    """A frame that cannot be processed; `message_id` is None when it could not be read."""

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        *,
        message_id: str | None = None,
        details: dict | None = None,
    ) -> None:
        super().__init__(code, description, details)
        self.message_id = message_id
