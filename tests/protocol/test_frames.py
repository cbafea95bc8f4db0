"""OCPP-J framing, error-code spelling, version negotiation, charger ids and wire timestamps.

Pure functions only: no sockets, no database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime
from apps.protocol import frames
from apps.protocol.errors import ErrorCode, FrameError
from apps.protocol.handshake import charger_id_from_path
from apps.protocol.versions import V16, V21, V201, VERSIONS, OcppVersion, negotiate

ALL_VERSIONS = pytest.mark.parametrize("version", VERSIONS, ids=str)
BEFORE_V21 = pytest.mark.parametrize("version", [V16, V201], ids=str)


def decode_error(text: str | bytes, version: OcppVersion) -> FrameError:
    with pytest.raises(FrameError) as caught:
        frames.decode(text, version)
    return caught.value


# --- decoding well-formed frames ----------------------------------------------------------


@ALL_VERSIONS
def test_it_decodes_a_call(version: OcppVersion) -> None:
    frame = frames.decode('[2, "m-1", "Heartbeat", {"a": [1]}]', version)

    assert frame == frames.Call("m-1", "Heartbeat", {"a": [1]})
    assert frame.message_type == frames.CALL


@ALL_VERSIONS
def test_it_decodes_bytes_like_text(version: OcppVersion) -> None:
    assert frames.decode(b'[2,"m-1","Heartbeat",{}]', version) == frames.Call(
        "m-1", "Heartbeat", {}
    )


@ALL_VERSIONS
def test_it_decodes_a_callresult(version: OcppVersion) -> None:
    frame = frames.decode('[3, "m-1", {"status": "Accepted"}]', version)

    assert frame == frames.CallResult("m-1", {"status": "Accepted"})
    assert frame.message_type == frames.CALLRESULT


@ALL_VERSIONS
def test_it_decodes_a_callerror(version: OcppVersion) -> None:
    frame = frames.decode('[4, "m-1", "GenericError", "it broke", {"why": "x"}]', version)

    assert frame == frames.CallError("m-1", "GenericError", "it broke", {"why": "x"})
    assert frame.message_type == frames.CALLERROR


@ALL_VERSIONS
def test_it_decodes_callerror_details_that_are_not_an_object_as_empty(
    version: OcppVersion,
) -> None:
    frame = frames.decode('[4, "m-1", "GenericError", "it broke", null]', version)

    assert frame == frames.CallError("m-1", "GenericError", "it broke", {})


def test_it_decodes_a_21_callresulterror() -> None:
    frame = frames.decode('[5, "m-1", "InternalError", "bad result", {}]', V21)

    assert isinstance(frame, frames.CallError)
    assert frame.message_type == frames.CALLRESULTERROR
    assert (frame.message_id, frame.error_code, frame.description) == (
        "m-1",
        "InternalError",
        "bad result",
    )


def test_it_decodes_a_21_send() -> None:
    frame = frames.decode('[6, "m-1", "NotifyPeriodicEventStream", {"data": []}]', V21)

    assert frame == frames.Send("m-1", "NotifyPeriodicEventStream", {"data": []})
    assert frame.message_type == frames.SEND


# --- frames that are answered with a CALLERROR --------------------------------------------


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "ProtocolError"), (V201, "MessageTypeNotSupported")],
    ids=str,
)
@pytest.mark.parametrize(
    "text",
    ['[5, "m-1", "InternalError", "bad result", {}]', '[6, "m-1", "Heartbeat", {}]'],
    ids=["callresulterror", "send"],
)
def test_it_refuses_21_only_message_types_before_21(
    version: OcppVersion, spelled: str, text: str
) -> None:
    error = decode_error(text, version)

    assert error.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
    assert error.code.spell(version) == spelled
    assert error.message_id == "m-1"
    assert error.details.get("respond") is not False


@pytest.mark.parametrize(
    ("version", "spelled"),
    [(V16, "ProtocolError"), (V201, "MessageTypeNotSupported"), (V21, "MessageTypeNotSupported")],
    ids=str,
)
@pytest.mark.parametrize("message_type", [0, 1, 7, 9, -2])
def test_it_refuses_unknown_message_types(
    version: OcppVersion, spelled: str, message_type: int
) -> None:
    error = decode_error(f'[{message_type}, "m-1", "Heartbeat", {{}}]', version)

    assert error.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
    assert error.code.spell(version) == spelled
    assert error.message_id == "m-1"


@pytest.mark.parametrize(
    ("version", "code"),
    [
        (V16, ErrorCode.FORMAT_VIOLATION),
        (V201, ErrorCode.RPC_FRAMEWORK_ERROR),
        (V21, ErrorCode.RPC_FRAMEWORK_ERROR),
    ],
    ids=str,
)
@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("this is not json", None),
        ("", None),
        ('[2, "m-7", "Heartbeat", {', "m-7"),  # starts like a CALL: its id is readable
        ('  [ 2 , "m-8", "Heartbeat", {"a": }]', "m-8"),
        ('[3, "m-9", {', None),  # only a CALL's id is sniffed
        ('[2, 17, "Heartbeat", {', None),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {', None),  # too long to be an id
        (b'\xff\xfe[2, "m-1"', None),
    ],
    ids=[
        "garbage",
        "empty",
        "call-prefix",
        "call-prefix-spaces",
        "callresult-prefix",
        "numeric-id",
        "long-id",
        "not-utf8",
    ],
)
def test_it_answers_invalid_json(
    version: OcppVersion, code: ErrorCode, text: str | bytes, message_id: str | None
) -> None:
    error = decode_error(text, version)

    assert error.code is code
    assert error.message_id == message_id
    assert "not valid JSON" in error.description
    reply = json.loads(
        frames.encode_error(error.message_id, error.code, error.description, version)
    )
    assert reply[:3] == [4, message_id or "-1", code.spell(version)]


@ALL_VERSIONS
@pytest.mark.parametrize("text", ["{}", '{"a": 1}', "[]", "null", "2", '"[2]"', "true"], ids=repr)
def test_it_refuses_what_is_not_a_non_empty_array(version: OcppVersion, text: str) -> None:
    error = decode_error(text, version)

    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.message_id is None


@ALL_VERSIONS
@pytest.mark.parametrize(
    "text",
    [
        "[2]",
        '[2, 17, "Heartbeat", {}]',
        '[2, null, "Heartbeat", {}]',
        '[2, "", "Heartbeat", {}]',
        '[2, ["m-1"], "Heartbeat", {}]',
        '[2, "' + "x" * 37 + '", "Heartbeat", {}]',
        '[9, 17, "Heartbeat", {}]',
    ],
    ids=["no-id", "int", "null", "empty", "list", "37-chars", "unknown-type"],
)
def test_it_refuses_an_unreadable_message_id(version: OcppVersion, text: str) -> None:
    error = decode_error(text, version)

    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.message_id is None
    assert "message id" in error.description
    assert error.details.get("respond") is not False


@ALL_VERSIONS
@pytest.mark.parametrize(
    "text",
    [
        "[3]",
        '[3, 17, {"status": "Accepted"}]',
        '[3, "", {}]',
        '[4, null, "GenericError", "d", {}]',
        '[4, "' + "x" * 37 + '", "GenericError", "d", {}]',
    ],
    ids=[
        "callresult-no-id",
        "callresult-int",
        "callresult-empty",
        "callerror-null",
        "callerror-37",
    ],
)
def test_it_never_answers_a_callresult_or_callerror_with_an_unreadable_id(
    version: OcppVersion, text: str
) -> None:
    error = decode_error(text, version)

    assert error.details == {"respond": False}
    assert error.message_id is None


def test_it_never_answers_a_21_callresulterror_with_an_unreadable_id() -> None:
    assert decode_error('[5, 17, "InternalError", "d", {}]', V21).details == {"respond": False}


def test_it_answers_a_type_5_frame_with_an_unreadable_id_before_21() -> None:
    # Before 2.1, type 5 is no answer of ours but an unknown message type.
    assert decode_error('[5, 17, "InternalError", "d", {}]', V16).details == {}


@ALL_VERSIONS
def test_it_accepts_a_36_character_message_id(version: OcppVersion) -> None:
    message_id = "x" * 36

    assert frames.decode(f'[2, "{message_id}", "Heartbeat", {{}}]', version).message_id == (
        message_id
    )


@ALL_VERSIONS
@pytest.mark.parametrize(
    "text",
    ['["2", "m-1", "Heartbeat", {}]', '[2.0, "m-1", "Heartbeat", {}]', '[true, "m-1", "H", {}]'],
    ids=["string", "float", "bool"],
)
def test_it_refuses_a_message_type_that_is_not_an_integer(version: OcppVersion, text: str) -> None:
    error = decode_error(text, version)

    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.message_id == "m-1"


@ALL_VERSIONS
@pytest.mark.parametrize(
    "text",
    [
        '[2, "m-1"]',
        '[2, "m-1", "Heartbeat"]',
        '[2, "m-1", "Heartbeat", {}, {}]',
    ],
    ids=["2", "3", "5"],
)
def test_it_refuses_a_call_with_the_wrong_element_count(version: OcppVersion, text: str) -> None:
    error = decode_error(text, version)

    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.message_id == "m-1"
    assert error.details.get("respond") is not False


@ALL_VERSIONS
@pytest.mark.parametrize("action", ["17", '""', "null", '{"a": 1}'])
def test_it_refuses_a_call_whose_action_is_not_a_string(version: OcppVersion, action: str) -> None:
    error = decode_error(f'[2, "m-1", {action}, {{}}]', version)

    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.message_id == "m-1"


@ALL_VERSIONS
@pytest.mark.parametrize("payload", ["[]", "null", '"x"', "1", "[{}]"])
def test_it_refuses_a_payload_that_is_not_an_object(version: OcppVersion, payload: str) -> None:
    error = decode_error(f'[2, "m-1", "Heartbeat", {payload}]', version)

    assert error.code is ErrorCode.FORMAT_VIOLATION
    assert error.code.spell(version) == (
        "FormationViolation" if version is V16 else "FormatViolation"
    )
    assert error.message_id == "m-1"


def test_it_refuses_a_21_send_whose_payload_is_not_an_object() -> None:
    error = decode_error('[6, "m-1", "Heartbeat", []]', V21)

    assert error.code is ErrorCode.FORMAT_VIOLATION
    assert error.message_id == "m-1"


# --- broken answers to our CALLs: recorded, never answered ---------------------------------


@ALL_VERSIONS
@pytest.mark.parametrize(
    "text",
    [
        '[3, "m-1"]',
        '[3, "m-1", []]',
        '[3, "m-1", "ok"]',
        '[3, "m-1", {}, {}]',
        '[4, "m-1", "GenericError"]',
        '[4, "m-1", "GenericError", "d"]',
        '[4, "m-1", 17, "d", {}]',
        '[4, "m-1", "GenericError", null, {}]',
        '[4, "m-1", "GenericError", "d", {}, {}]',
    ],
)
def test_it_marks_a_malformed_callresult_or_callerror_unanswerable(
    version: OcppVersion, text: str
) -> None:
    error = decode_error(text, version)

    assert error.details == {"respond": False}
    assert error.message_id == "m-1"


def test_it_marks_a_malformed_21_callresulterror_unanswerable() -> None:
    error = decode_error('[5, "m-1", "InternalError"]', V21)

    assert error.details == {"respond": False}


# --- sniffing and encoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message_id"),
    [
        ('[2,"abc","Heartbeat",{', "abc"),
        (b'[2,"abc"', "abc"),
        (' \n[ 2 ,\t"abc"', "abc"),
        ('[2,"' + "x" * 36 + '"', "x" * 36),
        ('[2,"' + "x" * 37 + '"', None),
        ('[2,""', None),
        ('[2,"a\\"b"', None),
        ('[3,"abc",{}]', None),
        ('[4,"abc","E","d",{}]', None),
        ('[22,"abc"', None),
        ('{"a": [2,"abc"]}', None),
        ("", None),
    ],
)
def test_it_sniffs_only_the_id_of_something_that_starts_like_a_call(
    raw: str | bytes, message_id: str | None
) -> None:
    assert frames.sniff_call_id(raw) == message_id


@ALL_VERSIONS
def test_it_encodes_call_and_result_that_decode_back(version: OcppVersion) -> None:
    call = frames.encode_call("m-1", "Reset", {"type": "Soft"})
    result = frames.encode_result("m-2", {"status": "Accepted"})

    assert json.loads(call) == [2, "m-1", "Reset", {"type": "Soft"}]
    assert json.loads(result) == [3, "m-2", {"status": "Accepted"}]
    assert frames.decode(call, version) == frames.Call("m-1", "Reset", {"type": "Soft"})
    assert frames.decode(result, version) == frames.CallResult("m-2", {"status": "Accepted"})


@ALL_VERSIONS
def test_it_encodes_an_error_with_a_spelled_code_and_empty_details(version: OcppVersion) -> None:
    reply = json.loads(
        frames.encode_error("m-1", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "missing", version)
    )

    assert reply == [
        4,
        "m-1",
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION.spell(version),
        "missing",
        {},
    ]


@pytest.mark.parametrize("message_id", [None, ""])
def test_it_encodes_a_missing_message_id_as_minus_one(message_id: str | None) -> None:
    reply = json.loads(frames.encode_error(message_id, ErrorCode.GENERIC_ERROR, "x", V201))

    assert reply[1] == "-1"


def test_it_truncates_long_error_descriptions_to_255_characters() -> None:
    description = "é" + "x" * 300

    reply = json.loads(frames.encode_error("m-1", ErrorCode.GENERIC_ERROR, description, V16))

    assert reply[3] == description[:255]
    assert len(reply[3]) == 255


def test_it_keeps_error_details() -> None:
    reply = json.loads(
        frames.encode_error("m-1", ErrorCode.GENERIC_ERROR, "x", V16, {"keyword": "type"})
    )

    assert reply[4] == {"keyword": "type"}


# --- error code spelling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "v16", "v201", "v21"),
    [
        (
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
            "OccurenceConstraintViolation",
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
        (ErrorCode.RPC_FRAMEWORK_ERROR, "ProtocolError", "RpcFrameworkError", "RpcFrameworkError"),
        (
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            "ProtocolError",
            "MessageTypeNotSupported",
            "MessageTypeNotSupported",
        ),
        # OCPP-J 1.6 §4.2.3 names it FormationViolation; its errata keep the name.
        (ErrorCode.FORMAT_VIOLATION, "FormationViolation", "FormatViolation", "FormatViolation"),
        (
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
            "TypeConstraintViolation",
            "TypeConstraintViolation",
            "TypeConstraintViolation",
        ),
        (
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            "PropertyConstraintViolation",
            "PropertyConstraintViolation",
            "PropertyConstraintViolation",
        ),
        (ErrorCode.SECURITY_ERROR, "SecurityError", "SecurityError", "SecurityError"),
        (ErrorCode.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented", "NotImplemented"),
        (ErrorCode.NOT_SUPPORTED, "NotSupported", "NotSupported", "NotSupported"),
        (ErrorCode.INTERNAL_ERROR, "InternalError", "InternalError", "InternalError"),
        (ErrorCode.PROTOCOL_ERROR, "ProtocolError", "ProtocolError", "ProtocolError"),
        (ErrorCode.GENERIC_ERROR, "GenericError", "GenericError", "GenericError"),
    ],
    ids=lambda value: value.value if isinstance(value, ErrorCode) else None,
)
def test_it_spells_error_codes_per_version(code: ErrorCode, v16: str, v201: str, v21: str) -> None:
    assert (code.spell(V16), code.spell(V201), code.spell(V21)) == (v16, v201, v21)


# --- version negotiation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "preferred", "supported", "expected"),
    [
        (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6", VERSIONS, V16),
        (["ocpp2.1", "ocpp1.6"], "ocpp2.0.1", VERSIONS, V21),  # preferred not offered
        (["ocpp1.6", "ocpp2.1", "ocpp2.0.1"], "", VERSIONS, V21),  # newest, not first offered
        (["ocpp1.6", "ocpp2.0.1"], "", VERSIONS, V201),
        (["ocpp1.6"], "", VERSIONS, V16),
        (["foo", "ocpp1.6", "bar"], "", VERSIONS, V16),
        (["ocpp2.1", "ocpp1.6"], "", (V16,), V16),
        (["ocpp2.1", "ocpp1.6"], "ocpp2.1", (V16,), V16),  # preferred but not served
        (["ocpp2.1", "ocpp2.0.1"], "", (V16, V201), V201),
        (["ocpp2.1"], "", (V16,), None),
        (["ocpp9", "OCPP1.6", "ocpp1.6.0"], "", VERSIONS, None),
        ([], "ocpp1.6", VERSIONS, None),
        ([], "", VERSIONS, None),
    ],
)
def test_it_negotiates_the_preferred_else_the_newest_offered_version(
    offered: list[str],
    preferred: str,
    supported: tuple[OcppVersion, ...],
    expected: OcppVersion | None,
) -> None:
    assert negotiate(offered, preferred, supported) is expected


def test_it_negotiates_among_all_versions_by_default() -> None:
    assert negotiate(["ocpp2.0.1", "ocpp2.1"]) is V21


# --- charger id from the websocket path ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "charger_id"),
    [
        ("/ocpp/CP-1", "CP-1"),
        (b"/ocpp/CP-1", "CP-1"),
        ("/CP-1", "CP-1"),
        ("/a/b/c/CP-1", "CP-1"),
        ("/ocpp/CP-1/", "CP-1"),
        ("/ocpp/CP-1//", "CP-1"),
        ("/ocpp/CP-1?token=abc", "CP-1"),
        ("/ocpp/CP-1/?next=/x/y", "CP-1"),
        ("/ocpp/CP%201", "CP 1"),
        ("/ocpp/A%2FB", "A/B"),
        (b"/ocpp/A%2fB", "A/B"),
        ("/ocpp/%C3%A9t%C3%A9", "été"),
        ("/ocpp/" + "x" * 48, "x" * 48),
        ("/ocpp/" + "%41" * 48, "A" * 48),  # the limit counts decoded characters
    ],
)
def test_it_reads_the_charger_id_from_the_last_path_segment(
    path: str | bytes, charger_id: str
) -> None:
    assert charger_id_from_path(path) == charger_id


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/?id=CP-1",
        "/ocpp/",
        "/ws/",
        "/ocpp/" + "x" * 49,
        "/ocpp/" + "%41" * 49,
        "/ocpp/CP:1",
        "/ocpp/CP%3A1",
        "/ocpp/CP%3a1",
        "/ocpp/%FF",
        "/ocpp/%20CP-1",
        "/ocpp/CP-1%20",
        "/ocpp/CP%0A1",
        "/ocpp/CP%001",
    ],
)
def test_it_refuses_an_unfit_charger_id(path: str) -> None:
    with pytest.raises(ValueError, match=r"charger id|codec"):
        charger_id_from_path(path)


# --- timestamps on the wire ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2024-01-02T03:04:05.678Z"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2024-01-02T03:04:05.999Z"),
        (
            datetime(2024, 1, 2, 1, 4, 5, 1000, tzinfo=timezone(timedelta(hours=-2))),
            "2024-01-02T03:04:05.001Z",
        ),
        (
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2023-12-31T23:30:00.000Z",
        ),
    ],
)
def test_it_formats_timestamps_in_utc_with_z_and_milliseconds(value: datetime, text: str) -> None:
    assert format_ocpp_datetime(value) == text


def test_it_refuses_to_format_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_ocpp_datetime(datetime(2024, 1, 2, 3, 4, 5))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2024-01-02T03:04:05.678Z", datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-01T22:04:05.5-05:00", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),  # no offset: UTC
        ("2024-01-02T03:04:05.123456", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ],
)
def test_it_parses_timestamps_to_aware_utc(text: str, value: datetime) -> None:
    parsed = parse_ocpp_datetime(text)

    assert parsed == value
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


def test_it_parses_what_it_formats() -> None:
    value = datetime(2024, 2, 29, 23, 59, 59, 123000, tzinfo=UTC)

    assert parse_ocpp_datetime(format_ocpp_datetime(value)) == value


@pytest.mark.parametrize("text", ["yesterday", "", "2024-13-01T00:00:00Z"])
def test_it_refuses_to_parse_a_non_timestamp(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ocpp_datetime(text)
