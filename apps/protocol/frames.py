"""OCPP-J framing: decode text frames into typed messages and encode them back.

Message types: 2 CALL, 3 CALLRESULT, 4 CALLERROR, and in OCPP 2.1 also 5 CALLRESULTERROR
(an error about a CALLRESULT we sent) and 6 SEND (a CALL that expects no answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from apps.protocol.errors import ErrorCode, FrameError
from apps.protocol.versions import V16, V21, OcppVersion

CALL = 2
CALLRESULT = 3
CALLERROR = 4
CALLRESULTERROR = 5
SEND = 6

MAX_MESSAGE_ID_LENGTH = 36
# orjson parses at most this many levels; its error for deeper text starts with _TOO_DEEP.
MAX_FRAME_DEPTH = 1024
_TOO_DEEP = "depth limit exceeded"
UNKNOWN_MESSAGE_ID = "-1"


@dataclass(slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]
    message_type: int = CALL


@dataclass(slots=True)
class Send:
    """OCPP 2.1 SEND: like a CALL, but the receiver never answers."""

    message_id: str
    action: str
    payload: dict[str, Any]
    message_type: int = SEND


@dataclass(slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]
    message_type: int = CALLRESULT


@dataclass(slots=True)
class CallError:
    message_id: str
    error_code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)
    message_type: int = CALLERROR


Frame = Call | Send | CallResult | CallError


def _supported_types(version: OcppVersion) -> frozenset[int]:
    if version is V21:
        return frozenset({CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND})
    return frozenset({CALL, CALLRESULT, CALLERROR})


def _response_types(version: OcppVersion) -> frozenset[int]:
    return _supported_types(version) - {CALL, SEND}


_MESSAGE_ID_PREFIX = re.compile(rb'^\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


def sniff_call_id(raw: str | bytes) -> str | None:
    """Return the message id of something that starts like a CALL, without parsing it all."""
    head = raw[:128]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    match = _MESSAGE_ID_PREFIX.match(head)
    return match.group(1).decode("utf-8", "replace") if match else None


def decode(text: str | bytes, version: OcppVersion) -> Frame:
    """Decode one websocket text frame; raise FrameError saying how to answer a bad one.

    A FrameError with `respond=False` in its details concerns a CALLRESULT or CALLERROR:
    OCPP-J never answers those with a CALLERROR, so the caller only records it.
    """
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith(_TOO_DEEP):
            # Well-formed, but nested past orjson's 1024 levels: a payload far too deep
            # (see engine.MAX_PAYLOAD_DEPTH), answered as such in every version.
            raise FrameError(
                ErrorCode.FORMAT_VIOLATION,
                f"frame nested deeper than {MAX_FRAME_DEPTH} levels",
                message_id=sniff_call_id(text),
            ) from None
        code = ErrorCode.FORMAT_VIOLATION if version is V16 else ErrorCode.RPC_FRAMEWORK_ERROR
        raise FrameError(
            code, f"frame is not valid JSON: {exc}", message_id=sniff_call_id(text)
        ) from None
    if not isinstance(message, list) or not message:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "frame is not a non-empty JSON array")
    message_type = message[0]
    message_id = message[1] if len(message) > 1 else None
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        description = f"message id must be a string of 1 to {MAX_MESSAGE_ID_LENGTH} characters"
        if type(message_type) is int and message_type in _response_types(version):
            # Still an answer to one of our CALLs: OCPP-J never answers it with a CALLERROR.
            raise _unanswerable(description, None)
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, description)
    if type(message_type) is not int:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "message type id must be an integer",
            message_id=message_id,
        )
    if message_type not in _supported_types(version):
        raise FrameError(
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {message_type} is not supported by OCPP {version}",
            message_id=message_id,
        )
    if message_type in (CALL, SEND):
        return _decode_call(message, message_id, message_type)
    if message_type == CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise _unanswerable("CALLRESULT must be [3, id, {payload}]", message_id)
        return CallResult(message_id, message[2])
    # CALLERROR and CALLRESULTERROR share their shape.
    if len(message) != 5 or not all(isinstance(part, str) for part in message[2:4]):
        raise _unanswerable("CALLERROR must be [4, id, code, description, {details}]", message_id)
    details = message[4] if isinstance(message[4], dict) else {}
    return CallError(message_id, message[2], message[3], details, message_type)


def _decode_call(message: list, message_id: str, message_type: int) -> Call | Send:
    if len(message) != 4:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "CALL must have 4 elements: [2, id, action, {payload}]",
            message_id=message_id,
        )
    action, payload = message[2], message[3]
    if not isinstance(action, str) or not action:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "action must be a string", message_id=message_id
        )
    if not isinstance(payload, dict):
        raise FrameError(
            ErrorCode.FORMAT_VIOLATION, "payload must be a JSON object", message_id=message_id
        )
    if message_type == SEND:
        return Send(message_id, action, payload)
    return Call(message_id, action, payload)


def _unanswerable(description: str, message_id: str | None) -> FrameError:
    return FrameError(
        ErrorCode.RPC_FRAMEWORK_ERROR,
        description,
        message_id=message_id,
        details={"respond": False},
    )


def _dumps(message: list) -> str:
    return orjson.dumps(message).decode()


def encode_call(message_id: str, action: str, payload: dict) -> str:
    return _dumps([CALL, message_id, action, payload])


def encode_result(message_id: str, payload: dict) -> str:
    return _dumps([CALLRESULT, message_id, payload])


def encode_result_error(
    message_id: str, code: ErrorCode, description: str, version: OcppVersion
) -> str:
    """Encode an OCPP 2.1 CALLRESULTERROR: our complaint about a CALLRESULT we received."""
    return _dumps([CALLRESULTERROR, message_id, code.spell(version), description[:255], {}])


def encode_error(
    message_id: str | None,
    code: ErrorCode,
    description: str,
    version: OcppVersion,
    details: dict | None = None,
) -> str:
    """Encode a CALLERROR; an unreadable message id is sent as "-1" (OCPP-J 2.x rule)."""
    return _dumps(
        [
            CALLERROR,
            message_id or UNKNOWN_MESSAGE_ID,
            code.spell(version),
            description[:255],
            details or {},
        ]
    )
