"""Outgoing CALLs (CSMS → charger): build them and judge the charger's answers. Sans-I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from apps.protocol import frames, schemas
from apps.protocol.engine import MAX_PAYLOAD_DEPTH, payload_too_deep
from apps.protocol.errors import ErrorCode, OcppError
from apps.protocol.versions import OcppVersion


def new_message_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Answer:
    """A charger's answer to one of our CALLs: a valid payload, or an error code."""

    payload: dict[str, Any] | None
    error_code: str = ""
    error_description: str = ""
    # Set when the charger's CALLRESULT broke the schema (OCPP 2.1 answers it: CALLRESULTERROR).
    invalid_result: OcppError | None = None


def judge_answer(version: OcppVersion, action: str, frame: frames.Frame) -> Answer:
    """Turn a CALLRESULT / CALLERROR into an Answer; a result breaking the schema is an error."""
    if isinstance(frame, frames.CallError):
        return Answer(None, frame.error_code, frame.description)
    if not isinstance(frame, frames.CallResult):
        return Answer(None, "ProtocolError", f"unexpected message type {frame.message_type}")
    if payload_too_deep(frame.payload):
        # As a CALL that deep is refused (engine._unfit): nothing downstream (the validator,
        # the JSON of the stored answer) has to cope with it.
        code = ErrorCode.FORMAT_VIOLATION.spell(version)
        return Answer(
            None, code, f"invalid response: nested deeper than {MAX_PAYLOAD_DEPTH} levels"
        )
    try:
        schemas.validate_response(version, action, frame.payload)
    except OcppError as exc:
        return Answer(None, exc.code.spell(version), f"invalid response: {exc.description}", exc)
    return Answer(frame.payload)
