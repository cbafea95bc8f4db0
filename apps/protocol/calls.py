"""Outgoing CALLs (CSMS → charger): build them and judge the charger's answers. Sans-I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from apps.protocol import frames, schemas
from apps.protocol.errors import OcppError
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
    try:
        schemas.validate_response(version, action, frame.payload)
    except OcppError as exc:
        return Answer(None, exc.code.spell(version), f"invalid response: {exc.description}", exc)
    return Answer(frame.payload)
