"""The sans-I/O protocol engine: text in, text out, no sockets and no ORM.

`Engine.receive(text)` decodes one frame and returns what to send back. CALLs are checked
(known action, handled, station accepted, schema) before their handler runs; every
problem becomes a CALLERROR with the OCPP-J code that names it. A handler's exception never
escapes: it is answered with InternalError and logged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.protocol import frames, schemas
from apps.protocol.errors import ErrorCode, FrameError, OcppError
from apps.protocol.versions import OcppVersion

logger = logging.getLogger(__name__)

Handler = Callable[["HandlerContext", dict[str, Any]], dict[str, Any]]
# Makes a scope whose writes are undone when the handler inside it raises (the database
# layer passes its own: apps.core.batch.undone_on_error); the engine itself has none.
UnitOfWork = Callable[[], contextlib.AbstractContextManager[None]]

# How many of a connection's latest CALL message ids are remembered to refuse repeats: what
# a retry repeats is the last few. Kept for every connection all the time: with 256, a
# charger that had sent that many heartbeats (a day's worth) held some 25 KiB of them.
RECENT_IDS = 32

# Messages a station may send before the CSMS has accepted its BootNotification.
ALLOWED_BEFORE_ACCEPTED = frozenset({"BootNotification"})

# How deep a CALL's payload may nest (the payload object is level 1). The deepest OCPP
# payload (2.1 tariffs, charging schedules) is some 10 levels; the stages after decoding give
# out far earlier than orjson's parser (1024): the schema validator at 255 levels, orjson's
# serialiser at 254 (a 2.x DataTransfer stores its `data`, which may be any JSON). Deeper is
# a FormatViolation before anything else looks at it, with a margin for a stage that wraps
# the payload (live events, command records).
MAX_PAYLOAD_DEPTH = 128


@dataclass
class HandlerContext:
    """What a handler knows of the connection it serves."""

    charger_id: str
    station_id: int
    version: OcppVersion
    accepted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # What handlers keep between the connection's frames (transactions.OpenTransactionCache, ...).
    # Cleared whenever a frame's work could not be committed: see ChargerConnection.forget.
    memory: dict[str, Any] = field(default_factory=dict)


class HandlerRegistry:
    """Maps action names to handler functions for one protocol version."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def handles(self, action: str) -> Callable[[Handler], Handler]:
        def register(func: Handler) -> Handler:
            if action in self._handlers:
                raise ValueError(f"{action} already has a handler")
            self._handlers[action] = func
            return func

        return register

    def get(self, action: str) -> Handler | None:
        return self._handlers.get(action)

    def actions(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def include(self, other: HandlerRegistry) -> None:
        """Take every handler of `other` this registry does not define itself."""
        for action, handler in other._handlers.items():
            self._handlers.setdefault(action, handler)


@dataclass(slots=True)
class Outcome:
    """The result of receiving one frame."""

    frame: frames.Frame | None  # None when the frame could not be decoded
    replies: list[str]
    action: str = ""
    error: OcppError | None = None


def _holds_nul(text: str | bytes, payload: Any) -> bool:
    """Tell whether a string of the payload holds U+0000; cheap unless the frame says "\\u0000"."""
    if ("\\u0000" if isinstance(text, str) else b"\\u0000") not in text:
        return False  # JSON can carry a NUL only as this escape
    return _nul_inside(payload)


def _nul_inside(payload: Any) -> bool:
    # Iterative: a payload may be nested up to orjson's 1024 levels, past Python's recursion.
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _too_deep(text: str | bytes, payload: dict[str, Any]) -> bool:
    """Tell whether `payload` nests deeper than MAX_PAYLOAD_DEPTH; cheap for a shallow frame."""
    brackets = ("[", "{") if isinstance(text, str) else (b"[", b"{")
    if text.count(brackets[0]) + text.count(brackets[1]) <= MAX_PAYLOAD_DEPTH:
        return False  # not enough containers in the whole frame to nest that deep
    return payload_too_deep(payload)


def payload_too_deep(payload: dict[str, Any]) -> bool:
    """Tell whether `payload` nests deeper than MAX_PAYLOAD_DEPTH (walks it whole)."""
    # Iterative: past Python's recursion limit, up to orjson's 1024 levels.
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values() if _container(child))
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value if _container(child))
    return False


def _container(value: Any) -> bool:
    return isinstance(value, dict | list)


class Engine:
    """Decode, validate and dispatch frames of one connection."""

    def __init__(
        self,
        version: OcppVersion,
        registry: HandlerRegistry,
        unit_of_work: UnitOfWork = contextlib.nullcontext,
    ) -> None:
        self.version = version
        self.registry = registry
        self.unit_of_work = unit_of_work
        # Message ids of the latest CALLs, oldest first: a repeated id on one connection is
        # refused. One small dict: a deque beside a set cost 1 KiB before the first id.
        self._recent: dict[str, None] = {}
        # The id the latest frame added to them, if it did: see forget_latest_id.
        self._latest_id: str | None = None

    def _is_repeat(self, message_id: str) -> bool:
        recent = self._recent
        if message_id in recent:
            return True
        if len(recent) >= RECENT_IDS:
            del recent[next(iter(recent))]
        recent[message_id] = None
        self._latest_id = message_id
        return False

    def set_aside(self) -> None:
        """A frame is refused before the engine sees it (too big): it added no id."""
        self._latest_id = None

    def forget_latest_id(self) -> None:
        """The latest frame's work was not committed: its message id does not count as seen.

        The charger resends the CALL with the same id after our InternalError (issue #14);
        refused as a repeat, its data would never be stored.
        """
        if self._latest_id is not None:
            self._recent.pop(self._latest_id, None)
            self._latest_id = None

    def receive(self, text: str | bytes, context: HandlerContext) -> Outcome:
        self._latest_id = None
        try:
            frame = frames.decode(text, self.version)
        except FrameError as exc:
            if exc.details.get("respond") is False:
                logger.warning("%s: unusable response frame: %s", context.charger_id, exc)
                return Outcome(None, [], error=exc)
            reply = frames.encode_error(exc.message_id, exc.code, exc.description, self.version)
            return Outcome(None, [reply], error=exc)
        if isinstance(frame, frames.Call | frames.Send):
            error = self._unfit(text, frame)
            if error is not None:
                if isinstance(frame, frames.Send):
                    return Outcome(frame, [], frame.action, error)
                reply = frames.encode_error(
                    frame.message_id, error.code, error.description, self.version
                )
                return Outcome(frame, [reply], frame.action, error)
        if isinstance(frame, frames.Call):
            return self._receive_call(frame, context)
        if isinstance(frame, frames.Send):
            # SEND expects no answer, not even an error: process what we can, reply nothing.
            outcome = self._receive_call(frame, context)
            outcome.replies = []
            return outcome
        # CALLRESULT / CALLERROR are answers to our own CALLs: the caller correlates them.
        return Outcome(frame, [])

    @staticmethod
    def _unfit(text: str | bytes, frame: frames.Call | frames.Send) -> OcppError | None:
        """What makes a CALL's payload unfit for any handler, schema check aside; or None."""
        if _too_deep(text, frame.payload):
            # Found in issue #14: a 2.x DataTransfer `data` 256 to 1024 levels deep passed the
            # schema and broke the handler's serialiser (InternalError). Refused whole, before
            # the validator and the handler: nothing is written but the message log.
            return OcppError(
                ErrorCode.FORMAT_VIOLATION,
                f"{frame.action}: payload nested deeper than {MAX_PAYLOAD_DEPTH} levels",
            )
        if _holds_nul(text, frame.payload):
            # No database column takes U+0000 (PostgreSQL refuses it in text and jsonb), and
            # no OCPP value needs it: refused as a value out of bounds, before any handler.
            return OcppError(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                f"{frame.action}: strings must not contain U+0000 (NUL)",
            )
        return None

    def _receive_call(self, frame: frames.Call | frames.Send, context: HandlerContext) -> Outcome:
        answer = isinstance(frame, frames.Call)
        try:
            if self._is_repeat(frame.message_id):
                raise OcppError(
                    ErrorCode.RPC_FRAMEWORK_ERROR,
                    f"message id {frame.message_id} was used already on this connection",
                )
            payload = self.dispatch(frame.action, frame.payload, context, answer=answer)
        except OcppError as exc:
            if exc.code == ErrorCode.INTERNAL_ERROR:
                # Our failure, undone: the charger may resend the CALL with the same id.
                self.forget_latest_id()
            reply = frames.encode_error(
                frame.message_id, exc.code, exc.description, self.version, exc.details or None
            )
            return Outcome(frame, [reply], frame.action, exc)
        if not answer:
            return Outcome(frame, [], frame.action)
        return Outcome(frame, [frames.encode_result(frame.message_id, payload)], frame.action)

    def dispatch(
        self,
        action: str,
        payload: dict[str, Any],
        context: HandlerContext,
        *,
        answer: bool = True,
    ) -> dict:
        """Run the handler of `action` and return its validated response payload.

        With `answer=False` (a SEND) the handler's return value is not validated: SEND
        messages have no response schema and nobody receives a response.
        """
        if action not in schemas.actions(self.version):
            raise OcppError(
                ErrorCode.NOT_IMPLEMENTED, f"{action} is not an OCPP {self.version} action"
            )
        handler = self.registry.get(action)
        if handler is None:
            raise OcppError(ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this CSMS")
        if not context.accepted and action not in ALLOWED_BEFORE_ACCEPTED:
            raise OcppError(
                ErrorCode.SECURITY_ERROR,
                f"station is not accepted: send BootNotification and wait for acceptance "
                f"before {action}",
            )
        try:
            schemas.validate_request(self.version, action, payload)
        except ValueError as exc:
            # jsonschema-rs refuses a payload nested deeper than its recursion limit (255
            # levels; orjson parses up to 1024): found by tests/ocpp/test_fuzz.py.
            raise OcppError(
                ErrorCode.FORMAT_VIOLATION, f"{action}: payload cannot be validated: {exc}"
            ) from exc
        try:
            # A handler that fails, or answers what its response schema refuses, leaves
            # nothing behind: its error is answered, and the frame is still logged in the
            # same job.
            with self.unit_of_work():
                response = handler(context, payload)
                if answer:
                    self._check_response(action, response, context)
        except OcppError:
            raise
        except Exception as exc:
            logger.exception("%s: %s handler failed", context.charger_id, action)
            raise OcppError(
                ErrorCode.INTERNAL_ERROR, f"{action} could not be processed: {type(exc).__name__}"
            ) from exc
        return response

    def _check_response(self, action: str, response: Any, context: HandlerContext) -> None:
        try:
            schemas.validate_response(self.version, action, response)
        except Exception as exc:
            # OcppError for a schema breach; ValueError for values that are not JSON at all
            # (an unformatted datetime), which the validator refuses to look at.
            logger.error(
                "%s: our %s response breaks the schema: %s", context.charger_id, action, exc
            )
            raise OcppError(
                ErrorCode.INTERNAL_ERROR, f"{action} response could not be built"
            ) from exc
