"""The sans-I/O engine: every way a frame can go wrong becomes the right CALLERROR.

No sockets, no database: a registry of canned handlers stands in for the real ones, and the
schemas are the official ones from the `ocpp` package.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.protocol import frames, schemas
from apps.protocol.engine import (
    MAX_PAYLOAD_DEPTH,
    RECENT_IDS,
    Engine,
    HandlerContext,
    HandlerRegistry,
    Outcome,
)
from apps.protocol.errors import ErrorCode, FrameError, OcppError
from apps.protocol.versions import V16, V21, V201, VERSIONS, OcppVersion

ALL_VERSIONS = pytest.mark.parametrize("version", VERSIONS, ids=str)
# OCPP-J 1.6 §4.2.3 spells it FormationViolation, and its errata keep the name.
FORMAT_VIOLATION = {V16: "FormationViolation", V201: "FormatViolation", V21: "FormatViolation"}
V2X = pytest.mark.parametrize("version", [V201, V21], ids=str)

NOW = "2024-01-02T03:04:05.000Z"
CHARGING_STATION = {"model": "M", "vendorName": "V"}
BOOT_REQUEST: dict[OcppVersion, dict[str, Any]] = {
    V16: {"chargePointVendor": "V", "chargePointModel": "M"},
    V201: {"reason": "PowerUp", "chargingStation": CHARGING_STATION},
    V21: {"reason": "PowerUp", "chargingStation": CHARGING_STATION},
}
STATUS_REQUEST: dict[OcppVersion, dict[str, Any]] = {
    V16: {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": NOW},
    V201: {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    V21: {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
}
START_REQUEST_16 = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW}
BOOT_RESPONSE = {"status": "Accepted", "currentTime": NOW, "interval": 300}
CANNED: dict[str, dict[str, Any]] = {
    "BootNotification": BOOT_RESPONSE,
    "Heartbeat": {"currentTime": NOW},
    "StatusNotification": {},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
}


def canned(action: str, calls: list[tuple[str, dict]]) -> Callable[..., dict[str, Any]]:
    def handler(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append((action, payload))
        return CANNED[action]

    return handler


class Station:
    """One connection's engine with canned handlers, and what the handlers saw."""

    def __init__(
        self,
        version: OcppVersion,
        accepted: bool = True,
        **overrides: Callable[[HandlerContext, dict[str, Any]], Any],
    ) -> None:
        self.calls: list[tuple[str, dict]] = []
        registry = HandlerRegistry()
        for action in CANNED:
            if action in schemas.actions(version):
                registry.handles(action)(overrides.pop(action, canned(action, self.calls)))
        for action, handler in overrides.items():
            registry.handles(action)(handler)
        self.engine = Engine(version, registry)
        self.context = HandlerContext(
            charger_id="CP-1", station_id=1, version=version, accepted=accepted
        )

    def receive(self, frame: list | str) -> Outcome:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        return self.engine.receive(text, self.context)

    def reply_to(self, frame: list | str) -> list:
        """Receive one frame and return the one reply to it, decoded."""
        outcome = self.receive(frame)
        assert len(outcome.replies) == 1, outcome
        return json.loads(outcome.replies[0])

    def error_to(self, frame: list | str) -> list:
        """Receive one frame and return the CALLERROR it got."""
        reply = self.reply_to(frame)
        assert reply[0] == frames.CALLERROR, reply
        assert len(reply) == 5
        assert isinstance(reply[3], str)
        assert isinstance(reply[4], dict)
        return reply


# --- the happy path -------------------------------------------------------------------------


@ALL_VERSIONS
def test_it_answers_a_valid_call_with_the_handler_result(version: OcppVersion) -> None:
    station = Station(version)

    outcome = station.receive([2, "m-1", "BootNotification", BOOT_REQUEST[version]])

    assert [json.loads(reply) for reply in outcome.replies] == [[3, "m-1", BOOT_RESPONSE]]
    assert outcome.action == "BootNotification"
    assert outcome.error is None
    assert outcome.frame == frames.Call("m-1", "BootNotification", BOOT_REQUEST[version])
    assert station.calls == [("BootNotification", BOOT_REQUEST[version])]


@ALL_VERSIONS
def test_it_passes_the_context_to_the_handler(version: OcppVersion) -> None:
    seen: list[HandlerContext] = []

    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(context)
        return {"currentTime": NOW}

    station = Station(version, Heartbeat=heartbeat)

    assert station.reply_to([2, "m-1", "Heartbeat", {}]) == [3, "m-1", {"currentTime": NOW}]
    assert seen == [station.context]


# --- frames that cannot be decoded ----------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "FormationViolation"), (V201, "RpcFrameworkError"), (V21, "RpcFrameworkError")],
    ids=str,
)
@pytest.mark.parametrize(
    ("text", "message_id"),
    [("{not json", "-1"), ('[2, "m-1", "Heartbeat", {', "m-1"), ('[3, "m-1", {', "-1")],
    ids=["garbage", "call-prefix", "callresult-prefix"],
)
def test_it_answers_invalid_json(
    version: OcppVersion, spelled: str, text: str, message_id: str
) -> None:
    station = Station(version)

    outcome = station.receive(text)

    reply = json.loads(outcome.replies[0])
    assert reply[:3] == [frames.CALLERROR, message_id, spelled]
    assert outcome.frame is None
    assert isinstance(outcome.error, FrameError)
    assert station.calls == []


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "ProtocolError"), (V201, "RpcFrameworkError"), (V21, "RpcFrameworkError")],
    ids=str,
)
@pytest.mark.parametrize(
    ("frame", "message_id"),
    [
        ('{"a": 1}', "-1"),
        ("[]", "-1"),
        ('"text"', "-1"),
        ([2, 17, "Heartbeat", {}], "-1"),
        ([2, "x" * 37, "Heartbeat", {}], "-1"),
        ([2, "m-1", "Heartbeat"], "m-1"),
        ([2, "m-1", "Heartbeat", {}, {}], "m-1"),
        (["2", "m-1", "Heartbeat", {}], "m-1"),
        ([2, "m-1", 5, {}], "m-1"),
    ],
    ids=[
        "object",
        "empty-array",
        "string",
        "int-id",
        "long-id",
        "3-elements",
        "5-elements",
        "string-type",
        "int-action",
    ],
)
def test_it_answers_frames_that_are_no_rpc(
    version: OcppVersion, spelled: str, frame: list | str, message_id: str
) -> None:
    station = Station(version)

    assert station.error_to(frame)[:3] == [frames.CALLERROR, message_id, spelled]
    assert station.calls == []


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "ProtocolError"), (V201, "MessageTypeNotSupported")],
    ids=str,
)
@pytest.mark.parametrize(
    "frame",
    [[5, "m-1", "InternalError", "bad result", {}], [6, "m-1", "Heartbeat", {}]],
    ids=["callresulterror", "send"],
)
def test_it_refuses_21_message_types_before_21(
    version: OcppVersion, spelled: str, frame: list
) -> None:
    station = Station(version)

    assert station.error_to(frame)[:3] == [frames.CALLERROR, "m-1", spelled]
    assert station.calls == []


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "ProtocolError"), (V201, "MessageTypeNotSupported"), (V21, "MessageTypeNotSupported")],
    ids=str,
)
def test_it_refuses_an_unknown_message_type(version: OcppVersion, spelled: str) -> None:
    station = Station(version)

    assert station.error_to([9, "m-1", "Heartbeat", {}])[:3] == [frames.CALLERROR, "m-1", spelled]


@ALL_VERSIONS
@pytest.mark.parametrize("payload", [[], None, "x", 1])
def test_it_answers_a_payload_that_is_not_an_object_with_format_violation(
    version: OcppVersion, payload: object
) -> None:
    station = Station(version)

    reply = station.error_to([2, "m-1", "Heartbeat", payload])

    assert reply[:3] == [frames.CALLERROR, "m-1", FORMAT_VIOLATION[version]]
    assert station.calls == []


# --- actions --------------------------------------------------------------------------------


@ALL_VERSIONS
@pytest.mark.parametrize("action", ["FlyToTheMoon", "heartbeat", "HeartbeatRequest", "Heartbeat "])
def test_it_answers_an_unknown_action_with_not_implemented(
    version: OcppVersion, action: str
) -> None:
    station = Station(version)

    reply = station.error_to([2, "m-1", action, {}])

    assert reply[:3] == [frames.CALLERROR, "m-1", "NotImplemented"]
    assert station.receive([2, "m-2", action, {}]).action == action


@ALL_VERSIONS
@pytest.mark.parametrize("accepted", [True, False])
def test_it_answers_a_known_action_without_handler_with_not_supported(
    version: OcppVersion, accepted: bool
) -> None:
    station = Station(version, accepted=accepted)
    assert "Authorize" in schemas.actions(version)

    reply = station.error_to([2, "m-1", "Authorize", {}])

    assert reply[:3] == [frames.CALLERROR, "m-1", "NotSupported"]


def test_it_knows_the_actions_of_each_version() -> None:
    assert {"BootNotification", "StartTransaction", "Reset"} <= schemas.actions(V16)
    assert "TransactionEvent" not in schemas.actions(V16)
    assert {"BootNotification", "TransactionEvent"} <= schemas.actions(V201)
    assert "StartTransaction" not in schemas.actions(V201)
    assert {"BootNotification", "NotifyPeriodicEventStream"} <= schemas.actions(V21)
    assert "NotifyPeriodicEventStream" not in schemas.actions(V201)
    for version in VERSIONS:
        assert not any(name.endswith(("Request", "Response")) for name in schemas.actions(version))


# --- stations not (yet) accepted -------------------------------------------------------------


@ALL_VERSIONS
@pytest.mark.parametrize("action", ["Heartbeat", "StatusNotification"], ids=["heartbeat", "status"])
def test_it_answers_a_station_not_accepted_with_security_error(
    version: OcppVersion, action: str
) -> None:
    station = Station(version, accepted=False)
    payload = {} if action == "Heartbeat" else STATUS_REQUEST[version]

    reply = station.error_to([2, "m-1", action, payload])

    assert reply[:3] == [frames.CALLERROR, "m-1", "SecurityError"]
    assert station.calls == []


@ALL_VERSIONS
def test_it_lets_a_station_not_accepted_boot(version: OcppVersion) -> None:
    station = Station(version, accepted=False)

    reply = station.reply_to([2, "m-1", "BootNotification", BOOT_REQUEST[version]])

    assert reply == [3, "m-1", BOOT_RESPONSE]


@ALL_VERSIONS
def test_it_accepts_other_calls_once_a_handler_accepts_the_station(version: OcppVersion) -> None:
    def boot(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        context.accepted = True
        return BOOT_RESPONSE

    station = Station(version, accepted=False, BootNotification=boot)
    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == "SecurityError"

    station.reply_to([2, "m-2", "BootNotification", BOOT_REQUEST[version]])

    assert station.reply_to([2, "m-3", "Heartbeat", {}]) == [3, "m-3", {"currentTime": NOW}]


@ALL_VERSIONS
def test_it_validates_a_boot_of_a_station_not_accepted(version: OcppVersion) -> None:
    station = Station(version, accepted=False)

    reply = station.error_to([2, "m-1", "BootNotification", {}])

    assert reply[2] == ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION.spell(version)


# --- schema violations -----------------------------------------------------------------------


def _with(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, **changes}


def _without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in payload.items() if name != key}


def _station(**changes: Any) -> dict[str, Any]:
    return _with(CHARGING_STATION, **changes)


# (action, payload, keyword) per version; the expected code follows from the keyword.
SCHEMA_VIOLATIONS: dict[OcppVersion, list[tuple[str, str, dict[str, Any], str]]] = {
    V16: [
        (
            "missing",
            "BootNotification",
            _without(BOOT_REQUEST[V16], "chargePointModel"),
            "required",
        ),
        ("missing-all", "StartTransaction", {}, "required"),
        ("type-string", "BootNotification", _with(BOOT_REQUEST[V16], chargePointModel=1), "type"),
        ("type-integer", "StartTransaction", _with(START_REQUEST_16, connectorId=1.5), "type"),
        ("type-null", "StartTransaction", _with(START_REQUEST_16, idTag=None), "type"),
        (
            "max-length",
            "BootNotification",
            _with(BOOT_REQUEST[V16], chargePointModel="M" * 21),
            "maxLength",
        ),
        ("enum", "StatusNotification", _with(STATUS_REQUEST[V16], status="Bad"), "enum"),
        (
            "date-time",
            "StartTransaction",
            _with(START_REQUEST_16, timestamp="yesterday"),
            "format",
        ),
        (
            "date-time-status",
            "StatusNotification",
            _with(STATUS_REQUEST[V16], timestamp="2024-13-45"),
            "format",
        ),
        ("additional", "BootNotification", _with(BOOT_REQUEST[V16], color="red"), "additional"),
        ("additional-empty", "Heartbeat", {"x": 1}, "additional"),
    ],
    V201: [],
    V21: [],
}
for _version in (V201, V21):
    SCHEMA_VIOLATIONS[_version] = [
        ("missing", "BootNotification", _without(BOOT_REQUEST[_version], "reason"), "required"),
        (
            "missing-nested",
            "BootNotification",
            _with(BOOT_REQUEST[_version], chargingStation={"model": "M"}),
            "required",
        ),
        ("type", "BootNotification", _with(BOOT_REQUEST[_version], reason=5), "type"),
        (
            "type-object",
            "BootNotification",
            _with(BOOT_REQUEST[_version], chargingStation="M"),
            "type",
        ),
        (
            "max-length",
            "BootNotification",
            _with(BOOT_REQUEST[_version], chargingStation=_station(model="M" * 21)),
            "maxLength",
        ),
        ("enum", "BootNotification", _with(BOOT_REQUEST[_version], reason="Nope"), "enum"),
        (
            "date-time",
            "StatusNotification",
            _with(STATUS_REQUEST[_version], timestamp="yesterday"),
            "format",
        ),
        (
            "additional",
            "BootNotification",
            _with(BOOT_REQUEST[_version], color="red"),
            "additional",
        ),
        (
            "additional-nested",
            "BootNotification",
            _with(BOOT_REQUEST[_version], chargingStation=_station(color="red")),
            "additional",
        ),
        ("additional-empty", "Heartbeat", {"x": 1}, "additional"),
    ]

# keyword → (code, the keyword the engine reports in the CALLERROR's details)
KEYWORD_CODES: dict[str, tuple[ErrorCode, str]] = {
    "required": (ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "required"),
    "type": (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "type"),
    "maxLength": (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "maxLength"),
    "enum": (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "enum"),
    "format": (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "format"),
    "additional": (ErrorCode.FORMAT_VIOLATION, "additionalProperties"),
}
# The wire spelling, written out so that a wrong `spell()` fails here too.
SPELLED: dict[tuple[ErrorCode, OcppVersion], str] = {
    (ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, V16): "OccurenceConstraintViolation",
    (ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, V201): "OccurenceConstraintViolation",
    (ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, V21): "OccurrenceConstraintViolation",
    (ErrorCode.FORMAT_VIOLATION, V16): "FormationViolation",
}


@pytest.mark.parametrize(
    ("version", "action", "payload", "keyword"),
    [
        pytest.param(version, action, payload, keyword, id=f"{version}-{name}")
        for version, cases in SCHEMA_VIOLATIONS.items()
        for name, action, payload, keyword in cases
    ],
)
def test_it_answers_schema_violations_with_the_code_that_names_them(
    version: OcppVersion, action: str, payload: dict[str, Any], keyword: str
) -> None:
    station = Station(version)
    code, reported_keyword = KEYWORD_CODES[keyword]

    reply = station.error_to([2, "m-1", action, payload])

    assert reply[:3] == [frames.CALLERROR, "m-1", SPELLED.get((code, version), code.value)]
    assert reply[3].startswith(f"{action}: ")
    assert reply[4] == {"keyword": reported_keyword}
    assert station.calls == []


@ALL_VERSIONS
def test_the_valid_payloads_of_the_schema_cases_pass(version: OcppVersion) -> None:
    # Each violation above differs from one of these in one place only.
    station = Station(version)
    requests = [("BootNotification", BOOT_REQUEST[version])]
    requests += [("StatusNotification", STATUS_REQUEST[version]), ("Heartbeat", {})]
    if version is V16:
        requests.append(("StartTransaction", START_REQUEST_16))

    for number, (action, payload) in enumerate(requests):
        assert station.reply_to([2, f"m-{number}", action, payload])[0] == frames.CALLRESULT


@pytest.mark.parametrize(
    ("version", "spelled"),
    [
        (V16, "OccurenceConstraintViolation"),
        (V201, "OccurenceConstraintViolation"),
        (V21, "OccurrenceConstraintViolation"),
    ],
    ids=str,
)
def test_it_spells_a_missing_required_field_as_the_version_does(
    version: OcppVersion, spelled: str
) -> None:
    station = Station(version)

    assert station.error_to([2, "m-1", "BootNotification", {}])[2] == spelled


# --- handlers that fail ----------------------------------------------------------------------


@ALL_VERSIONS
@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyError("x"), ZeroDivisionError()])
def test_it_answers_a_handler_exception_with_internal_error(
    version: OcppVersion, exception: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        raise exception

    station = Station(version, Heartbeat=heartbeat)

    with caplog.at_level(logging.ERROR, logger="apps.protocol.engine"):
        outcome = station.receive([2, "m-1", "Heartbeat", {}])

    reply = json.loads(outcome.replies[0])
    assert reply[:3] == [frames.CALLERROR, "m-1", "InternalError"]
    assert type(exception).__name__ in reply[3]
    assert outcome.error is not None and outcome.error.code is ErrorCode.INTERNAL_ERROR
    assert any("CP-1" in record.getMessage() for record in caplog.records)


@ALL_VERSIONS
def test_it_passes_on_an_ocpp_error_raised_by_a_handler(version: OcppVersion) -> None:
    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        raise OcppError(ErrorCode.GENERIC_ERROR, "not now", {"retry": 5})

    station = Station(version, Heartbeat=heartbeat)

    assert station.error_to([2, "m-1", "Heartbeat", {}]) == [
        frames.CALLERROR,
        "m-1",
        "GenericError",
        "not now",
        {"retry": 5},
    ]


@ALL_VERSIONS
@pytest.mark.parametrize(
    "response",
    [
        {},  # required currentTime missing
        {"currentTime": "now"},
        {"currentTime": NOW, "extra": 1},
        {"currentTime": 1},
        None,
        [],
        {"currentTime": datetime(2024, 1, 2, tzinfo=UTC)},  # forgot to format it
        {"currentTime": {1, 2}},
    ],
    ids=["missing", "format", "additional", "type", "none", "list", "datetime", "set"],
)
def test_it_answers_a_response_that_breaks_the_schema_with_internal_error(
    version: OcppVersion, response: object, caplog: pytest.LogCaptureFixture
) -> None:
    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> object:
        return response

    station = Station(version, Heartbeat=heartbeat)

    with caplog.at_level(logging.ERROR, logger="apps.protocol.engine"):
        reply = station.error_to([2, "m-1", "Heartbeat", {}])

    assert reply[:3] == [frames.CALLERROR, "m-1", "InternalError"]
    assert "Heartbeat" in reply[3]
    assert any("breaks the schema" in record.getMessage() for record in caplog.records)


# --- messages that get no reply --------------------------------------------------------------


def test_it_runs_a_21_send_and_replies_nothing() -> None:
    seen: list[dict[str, Any]] = []

    def stream(context: HandlerContext, payload: dict[str, Any]) -> None:
        seen.append(payload)

    station = Station(V21, NotifyPeriodicEventStream=stream)
    payload = {"id": 1, "pending": 0, "basetime": NOW, "data": [{"t": 0, "v": "1.5"}]}

    outcome = station.receive([6, "m-1", "NotifyPeriodicEventStream", payload])

    assert outcome.replies == []
    assert outcome.error is None
    assert outcome.frame == frames.Send("m-1", "NotifyPeriodicEventStream", payload)
    assert outcome.action == "NotifyPeriodicEventStream"
    assert seen == [payload]


def test_it_runs_a_21_send_of_a_call_action_and_replies_nothing() -> None:
    station = Station(V21)

    outcome = station.receive([6, "m-1", "Heartbeat", {}])

    assert outcome.replies == []
    assert outcome.error is None
    assert station.calls == [("Heartbeat", {})]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([6, "m-1", "FlyToTheMoon", {}], ErrorCode.NOT_IMPLEMENTED),
        ([6, "m-1", "Authorize", {}], ErrorCode.NOT_SUPPORTED),
        ([6, "m-1", "Heartbeat", {"x": 1}], ErrorCode.FORMAT_VIOLATION),
        (
            [6, "m-1", "NotifyPeriodicEventStream", {"id": 1}],
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
        ),
    ],
    ids=["unknown", "unhandled", "additional", "missing"],
)
def test_it_never_answers_a_21_send_even_when_it_fails(frame: list, code: ErrorCode) -> None:
    def stream(context: HandlerContext, payload: dict[str, Any]) -> None:
        raise AssertionError("an invalid SEND reached its handler")

    station = Station(V21, NotifyPeriodicEventStream=stream)

    outcome = station.receive(frame)

    assert outcome.replies == []
    assert outcome.error is not None and outcome.error.code is code


def test_it_never_answers_a_21_send_whose_handler_raises() -> None:
    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    station = Station(V21, Heartbeat=heartbeat)

    outcome = station.receive([6, "m-1", "Heartbeat", {}])

    assert outcome.replies == []
    assert outcome.error is not None and outcome.error.code is ErrorCode.INTERNAL_ERROR


def test_it_never_answers_a_21_send_from_a_station_not_accepted() -> None:
    station = Station(V21, accepted=False)

    outcome = station.receive([6, "m-1", "Heartbeat", {}])

    assert outcome.replies == []
    assert outcome.error is not None and outcome.error.code is ErrorCode.SECURITY_ERROR
    assert station.calls == []


@ALL_VERSIONS
@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ([3, "m-1", {"status": "Accepted"}], frames.CallResult("m-1", {"status": "Accepted"})),
        (
            [4, "m-1", "NotSupported", "no", {}],
            frames.CallError("m-1", "NotSupported", "no", {}),
        ),
    ],
    ids=["callresult", "callerror"],
)
def test_it_hands_back_answers_to_our_calls_without_replying(
    version: OcppVersion, frame: list, expected: frames.Frame
) -> None:
    station = Station(version)

    outcome = station.receive(frame)

    assert outcome == Outcome(expected, [])
    assert station.calls == []


def test_it_hands_back_a_21_callresulterror_without_replying() -> None:
    outcome = Station(V21).receive([5, "m-1", "InternalError", "bad result", {}])

    assert outcome.replies == []
    assert isinstance(outcome.frame, frames.CallError)
    assert outcome.frame.message_type == frames.CALLRESULTERROR


@ALL_VERSIONS
@pytest.mark.parametrize(
    "frame",
    [
        [3, "m-1"],
        [3, "m-1", "Accepted"],
        [3, 17, {}],
        [4, "m-1", "NotSupported"],
        [4, "m-1", 5, "no", {}],
        [4, None, "NotSupported", "no", {}],
    ],
    ids=["short", "string-payload", "int-id", "short-error", "int-code", "null-id"],
)
def test_it_never_answers_a_malformed_callresult_or_callerror(
    version: OcppVersion, frame: list, caplog: pytest.LogCaptureFixture
) -> None:
    station = Station(version)

    with caplog.at_level(logging.WARNING, logger="apps.protocol.engine"):
        outcome = station.receive(frame)

    assert outcome.replies == []
    assert outcome.frame is None
    assert isinstance(outcome.error, FrameError)
    assert any("unusable response frame" in record.getMessage() for record in caplog.records)


# --- the registry ----------------------------------------------------------------------------


def test_a_registry_refuses_two_handlers_for_one_action() -> None:
    registry = HandlerRegistry()
    registry.handles("Heartbeat")(canned("Heartbeat", []))

    with pytest.raises(ValueError, match="Heartbeat"):
        registry.handles("Heartbeat")(canned("Heartbeat", []))


def test_a_registry_includes_only_what_it_does_not_define() -> None:
    own, other = canned("Heartbeat", []), canned("Heartbeat", [])
    boot = canned("BootNotification", [])
    registry, base = HandlerRegistry(), HandlerRegistry()
    registry.handles("Heartbeat")(own)
    base.handles("Heartbeat")(other)
    base.handles("BootNotification")(boot)

    registry.include(base)

    assert registry.get("Heartbeat") is own
    assert registry.get("BootNotification") is boot
    assert registry.actions() == {"Heartbeat", "BootNotification"}


# --- message ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "code"),
    [(V16, "ProtocolError"), (V201, "RpcFrameworkError"), (V21, "RpcFrameworkError")],
)
def test_a_message_id_repeated_on_a_connection_is_refused(version: OcppVersion, code: str) -> None:
    station = Station(version)

    assert station.reply_to([2, "m-1", "Heartbeat", {}])[0] == frames.CALLRESULT
    for n in range(RECENT_IDS - 1):
        station.reply_to([2, f"other-{n}", "Heartbeat", {}])
    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == code
    assert len(station.calls) == RECENT_IDS  # the repeat reached no handler


def test_only_the_latest_message_ids_are_remembered() -> None:
    # Every connection keeps them for its whole life: their number is bounded.
    station = Station(V201)

    for n in range(RECENT_IDS * 10):
        station.reply_to([2, f"m-{n}", "Heartbeat", {}])

    assert len(station.engine._recent) == RECENT_IDS
    assert station.reply_to([2, "m-0", "Heartbeat", {}])[0] == frames.CALLRESULT
    assert station.error_to([2, f"m-{RECENT_IDS * 10 - 1}", "Heartbeat", {}])[2] == (
        "RpcFrameworkError"
    )


def test_a_call_answered_internal_error_may_be_sent_again_with_its_id() -> None:
    """Issue #14: our failure is undone and the charger retries with the same message id;
    refused as a repeat, its data would never be stored. Other errors keep the id seen."""
    failures = [RuntimeError("lock timeout")]

    def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return {"currentTime": "2024-01-01T00:00:00Z"}

    station = Station(V16, Heartbeat=heartbeat)

    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == "InternalError"
    assert station.reply_to([2, "m-1", "Heartbeat", {}])[0] == frames.CALLRESULT
    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == "ProtocolError"
    assert station.error_to([2, "m-2", "Heartbeat", {"x": 1}])[2] != "InternalError"
    assert station.error_to([2, "m-2", "Heartbeat", {}])[2] == "ProtocolError"


def test_forgetting_the_latest_id_forgets_only_an_id_that_frame_added() -> None:
    """The connection's frame failed after the engine (its commit): its id is forgotten; a
    refused repeat added none, so the id it repeats stays seen."""
    station = Station(V16)

    station.reply_to([2, "m-1", "Heartbeat", {}])
    station.engine.forget_latest_id()
    assert station.reply_to([2, "m-1", "Heartbeat", {}])[0] == frames.CALLRESULT
    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == "ProtocolError"
    station.engine.forget_latest_id()
    assert station.error_to([2, "m-1", "Heartbeat", {}])[2] == "ProtocolError"


def _data_transfer(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"status": "Accepted"}


@V2X
@pytest.mark.parametrize("extra", [0, 1])
def test_a_payload_is_refused_one_level_past_the_depth_limit(
    version: OcppVersion, extra: int
) -> None:
    # The payload object is level 1: `data` adds MAX_PAYLOAD_DEPTH - 1 more, then `extra`.
    depth = MAX_PAYLOAD_DEPTH - 1 + extra
    seen: list[dict] = []
    station = Station(version, DataTransfer=lambda ctx, p: seen.append(p) or _data_transfer(ctx, p))
    text = f'[2,"d-1","DataTransfer",{{"vendorId":"V","data":{"[" * depth}{"]" * depth}}}]'

    reply = station.reply_to(text)

    if extra:
        assert reply[:3] == [4, "d-1", "FormatViolation"]
        assert reply[3] == f"DataTransfer: payload nested deeper than {MAX_PAYLOAD_DEPTH} levels"
        assert seen == []
    else:
        assert reply == [3, "d-1", {"status": "Accepted"}]
        assert len(seen) == 1


@ALL_VERSIONS
def test_a_call_with_objects_nested_too_deep_never_reaches_a_handler(
    version: OcppVersion,
) -> None:
    station = Station(version)
    nested = '{"a":' * 200 + "1" + "}" * 200
    text = f'[2,"d-2","StatusNotification",{{"customData":{nested}}}]'

    reply = station.reply_to(text)

    assert reply[:3] == [4, "d-2", FORMAT_VIOLATION[version]]
    assert station.calls == []


@ALL_VERSIONS
def test_a_frame_past_the_parsers_depth_is_a_format_violation(version: OcppVersion) -> None:
    depth = frames.MAX_FRAME_DEPTH
    text = f'[2,"d-3","DataTransfer",{{"vendorId":"V","data":{"[" * depth}{"]" * depth}}}]'

    reply = Station(version).reply_to(text)

    assert reply[:3] == [4, "d-3", FORMAT_VIOLATION[version]]
    assert "nested deeper than 1024 levels" in reply[3]
