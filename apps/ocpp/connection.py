"""One charger connection's protocol state, between the consumer and the engine.

Its methods are synchronous (they reach the database through services) and the consumer
runs them off the event loop, one at a time per connection, so frames of one charger are
processed in the order they arrived.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.chargers.services import (
    station_connect,
    station_disconnect,
    station_touch,
)
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import (
    command_claim,
    command_complete,
    command_finish,
    command_time_out,
    payload_for_sending,
)
from apps.core.batch import undone_on_error
from apps.core.processes import process_ensure_registered
from apps.core.timeutil import utcnow
from apps.ocpp.handlers import registry_for
from apps.ocpp.models import MessageLog
from apps.ocpp.services import message_log_write
from apps.protocol import calls, frames, observers
from apps.protocol.engine import Engine, HandlerContext, Outcome
from apps.protocol.errors import ErrorCode
from apps.protocol.versions import V21, OcppVersion

logger = logging.getLogger(__name__)

# last_seen_at is written at most this often; heartbeats and boots always write it.
TOUCH_EVERY = timedelta(seconds=settings.OCPP_LAST_SEEN_EVERY)


def _storable(text: str, limit: int) -> str:
    """`text` as any database column takes it: at most `limit` characters, NUL replaced.

    The log rows of a group-commit batch are inserted together: one that PostgreSQL refuses
    (a NUL, an action longer than its column) would fail every job of the batch.
    """
    return text[:limit].replace("\x00", "\ufffd")


@dataclass
class ChargerConnection:
    station: ChargingStation
    version: OcppVersion
    max_frame_bytes: int
    context: HandlerContext = field(init=False)
    engine: Engine = field(init=False)
    _touched_at: datetime | None = None
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # message id → action of our CALLs awaiting an answer (one at a time in practice).
    calls_in_flight: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.context = HandlerContext(
            charger_id=self.station.charger_id,
            station_id=self.station.pk,
            version=self.version,
            accepted=self.station.registration_status == RegistrationStatus.ACCEPTED,
            extra={"free_charging": self.station.free_charging},
        )
        self.engine = Engine(self.version, registry_for(self.version), undone_on_error)

    @property
    def charger_id(self) -> str:
        return self.station.charger_id

    def open(self) -> None:
        station_connect(
            station=self.station,
            ocpp_version=self.version.subprotocol,
            connection_id=self.connection_id,
            # Registered first (once per process): a holder always names a known process.
            connected_by=process_ensure_registered(),
        )
        self._touched_at = utcnow()

    def close(self) -> None:
        station_disconnect(station_id=self.station.pk, connection_id=self.connection_id)

    def receive(self, text: str) -> Outcome:
        """Process one frame from the charger; return the outcome with the replies to send."""
        received_at = utcnow()
        if len(text) > self.max_frame_bytes // 4 and len(text.encode()) > self.max_frame_bytes:
            self.engine.set_aside()
            outcome = self._oversized(text)
        else:
            outcome = self.engine.receive(text, self.context)
        self._log(text, outcome, received_at)
        if isinstance(outcome.frame, frames.Call) and outcome.action:
            observers.notify(
                observers.Exchange(
                    self.version.subprotocol, "in", outcome.action, outcome.error is None
                )
            )
        if self._touched_at is None or received_at - self._touched_at > TOUCH_EVERY:
            # Not caught: a failed statement (a lock or statement timeout, a deadlock) may
            # have undone the frame's work with it, which must then not be acknowledged. The
            # frame fails whole and is answered InternalError (docs/ocpp.md, data rules).
            station_touch(station_id=self.station.pk, seen_at=received_at)
            self._touched_at = received_at
        return outcome

    def claim_command(self, command_id: int) -> tuple[ChargerCommand, str] | None:
        """Take a pending command for sending; return it with its CALL frame, or None."""
        message_id = calls.new_message_id()
        command = command_claim(command_id=command_id, message_id=message_id)
        if command is None:
            return None
        text = frames.encode_call(message_id, command.action, payload_for_sending(command))
        self.calls_in_flight[message_id] = command.action
        # The log keeps the stored payload: secrets stay placeholders there.
        logged = frames.encode_call(message_id, command.action, command.payload)
        self._write_log(
            [self._entry(MessageLog.Direction.OUT, frames.CALL, message_id, command.action, logged)]
        )
        return command, text

    def finish_command(self, command: ChargerCommand, frame: frames.Frame | None) -> list[str]:
        """Store the answer to a command (None: it timed out) with its side effects.

        Return the frames to send back: on OCPP 2.1, a CALLRESULTERROR for a CALLRESULT that
        breaks its schema.
        """
        self.calls_in_flight.pop(command.message_id, None)
        if frame is None:
            command_time_out(command=command)
            return []
        answer = calls.judge_answer(self.version, command.action, frame)
        replies = []
        if answer.invalid_result is not None and self.version is V21:
            reply = frames.encode_result_error(
                command.message_id,
                answer.invalid_result.code,
                answer.invalid_result.description,
                self.version,
            )
            self._write_log(
                [
                    self._entry(
                        MessageLog.Direction.OUT,
                        frames.CALLRESULTERROR,
                        command.message_id,
                        command.action,
                        reply,
                    )
                ]
            )
            replies.append(reply)
        observers.notify(
            observers.Exchange(
                self.version.subprotocol, "out", command.action, answer.payload is not None
            )
        )
        try:
            command_complete(
                command=command,
                response=answer.payload,
                error_code=answer.error_code,
                error_description=answer.error_description,
            )
        except Exception as exc:
            # Never leave a command "sent": keep the answer and say what went wrong.
            logger.exception("%s: storing the answer to %s failed", self.charger_id, command)
            command_finish(
                command=command,
                status=CommandStatus.ERROR,
                response=answer.payload,
                error_code="InternalError",
                error_description=f"answer received, storing its effects failed: {exc!r}",
            )
        return replies

    def refusal_replies(self, text: str, description: str) -> list[str]:
        """Replies for a frame refused before processing (a rate limit): SecurityError.

        Built in memory, logged nowhere: a flood's refused frames cost no database work."""
        message_id = frames.sniff_call_id(text)
        if message_id is None:
            return []
        return [
            frames.encode_error(message_id, ErrorCode.SECURITY_ERROR, description, self.version)
        ]

    def forget(self) -> None:
        """A frame's work was not committed: drop what handlers remember of this connection
        (it may not be in the database), and the frame's message id, so that the charger's
        retry of it is processed rather than refused as a repeat."""
        self.context.memory.clear()
        self.engine.forget_latest_id()

    def failure_replies(self, text: str) -> list[str]:
        """Replies for a frame whose processing failed outside the engine (database down)."""
        message_id = frames.sniff_call_id(text)
        if message_id is None:
            return []
        return [
            frames.encode_error(
                message_id, ErrorCode.INTERNAL_ERROR, "frame could not be processed", self.version
            )
        ]

    def _oversized(self, text: str) -> Outcome:
        description = f"frame exceeds {self.max_frame_bytes} bytes"
        message_id = frames.sniff_call_id(text)
        logger.warning("%s: %s", self.charger_id, description)
        if message_id is None:
            return Outcome(None, [])
        reply = frames.encode_error(
            message_id, ErrorCode.FORMAT_VIOLATION, description, self.version
        )
        return Outcome(None, [reply])

    def _entry(
        self,
        direction: str,
        message_type: int | None,
        message_id: str,
        action: str,
        text: str,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A message-log row (a dict of MessageLog fields: cheaper than an instance)."""
        return {
            "charger_id": self.charger_id,
            "direction": direction,
            "message_type": message_type,
            "message_id": _storable(message_id, 64),
            "action": _storable(action, 64),
            "frame": _storable(text, self.max_frame_bytes),
            "created_at": at or utcnow(),
        }

    def _log(self, text: str, outcome: Outcome, received_at: datetime) -> None:
        frame = outcome.frame
        message_id = getattr(frame, "message_id", "")
        action = outcome.action
        if isinstance(frame, frames.CallResult | frames.CallError):
            action = self.calls_in_flight.get(message_id, "")
        entries = [
            self._entry(
                MessageLog.Direction.IN,
                getattr(frame, "message_type", None),
                message_id,
                action,
                text,
                received_at,
            )
        ]
        reply_type = frames.CALLERROR if outcome.error else frames.CALLRESULT
        for reply in outcome.replies:
            entries.append(
                self._entry(MessageLog.Direction.OUT, reply_type, message_id, action, reply)
            )
        self._write_log(entries)

    def _write_log(self, entries: list[dict[str, Any]]) -> None:
        try:
            message_log_write(entries=entries)
        except Exception:
            # The exchange itself is already committed; a lost log line must not undo it.
            logger.exception("%s: could not write the message log", self.charger_id)
