"""Fuzzing: whatever a charger sends, it gets one well-formed answer or none, and nothing breaks.

Properties, for every OCPP version:

- no exception escapes `Engine.receive`, whatever text or bytes it is given;
- a frame that is not an answer gets exactly one reply: a well-formed OCPP-J CALLRESULT or
  CALLERROR with the frame's message id ("-1" when none can be read) and an error code of
  the version; an answer (CALLRESULT, CALLERROR, 2.1's CALLRESULTERROR) and a well-formed
  2.1 SEND get none;
- a CALLRESULT answers only a schema-valid request whose handler answered, and its payload is
  valid against the action's response schema; a valid request to a handler that answers
  validly always gets one.

The frames are random text and bytes, random JSON, and valid frames of every action of every
version, with payloads generated from the official schemas, put through mutations (a
required field dropped, a type changed, a property added, huge strings and numbers, deep
nesting, message type / id / action / arity broken, truncated or invalid UTF-8 text). The
engine runs with the action set of the real handler registry, or a stub for every action of
the schema set so that every schema's validation is exercised; the stub handlers answer
validly, raise, raise an OcppError or answer out of schema, as hypothesis chooses. No
database is involved. `scripts/fuzz.py` runs the same properties for much longer.

One property goes over a real socket: random and mutated frames on one connection to the
live server (real handlers, real database), which still answers a Heartbeat afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import jsonschema_rs
import orjson
import pytest
import websockets
from asgiref.sync import sync_to_async
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from apps.ocpp.handlers import registry_for
from apps.ocpp.models import MessageLog
from apps.protocol import schemas
from apps.protocol.engine import Engine, HandlerContext, HandlerRegistry
from apps.protocol.errors import ErrorCode, OcppError
from apps.protocol.versions import V16, V21, V201, VERSIONS, OcppVersion
from apps.transactions.models import MeterValue

IN_SUITE = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# CALLERROR codes each version defines (OCPP-J 1.6 §4.2.3, 2.0.1 and 2.1 §4.3). 1.6 names
# FormationViolation and its errata keep the name: a 1.6 connection gets that spelling,
# never 2.x's FormatViolation. 1.6 and 2.0.1 spell "Occurence".
ERROR_CODES: dict[OcppVersion, frozenset[str]] = {
    V16: frozenset(
        {
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        }
    ),
    V201: frozenset(
        {
            "FormatViolation",
            "GenericError",
            "InternalError",
            "MessageTypeNotSupported",
            "NotImplemented",
            "NotSupported",
            "OccurenceConstraintViolation",
            "PropertyConstraintViolation",
            "ProtocolError",
            "RpcFrameworkError",
            "SecurityError",
            "TypeConstraintViolation",
        }
    ),
}
ERROR_CODES[V21] = (ERROR_CODES[V201] - {"OccurenceConstraintViolation"}) | {
    "OccurrenceConstraintViolation"
}
# The code of a frame past the size or depth limits, as each version spells it.
FORMAT_VIOLATION = {V16: "FormationViolation", V201: "FormatViolation", V21: "FormatViolation"}

# Message types that are answers to our own CALLs: never answered.
ANSWER_TYPES: dict[OcppVersion, frozenset[int]] = {
    V16: frozenset({3, 4}),
    V201: frozenset({3, 4}),
    V21: frozenset({3, 4, 5}),
}
SEND = 6
MAX_DESCRIPTION = 255


# --- The official schemas, read independently of apps.protocol.schemas ------------------------


def _schema_dir(version: OcppVersion) -> Any:
    return resources.files("ocpp") / version.package / "schemas"


@functools.cache
def load_schema(version: OcppVersion, filename: str) -> dict[str, Any] | None:
    path = _schema_dir(version) / filename
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def request_schema(version: OcppVersion, action: str) -> dict[str, Any]:
    schema = load_schema(version, f"{action}{version.request_suffix}.json")
    return schema if schema is not None else load_schema(version, f"{action}.json")


def response_schema(version: OcppVersion, action: str) -> dict[str, Any] | None:
    return load_schema(version, f"{action}Response.json")


@functools.cache
def _validator(version: OcppVersion, action: str, response: bool) -> jsonschema_rs.Validator:
    schema = response_schema(version, action) if response else request_schema(version, action)
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def is_valid_request(version: OcppVersion, action: str, payload: object) -> bool:
    return _validator(version, action, False).is_valid(payload)


def is_valid_response(version: OcppVersion, action: str, payload: object) -> bool:
    return _validator(version, action, True).is_valid(payload)


def all_actions(version: OcppVersion) -> list[str]:
    """Every action of the version's schema set, both directions."""
    names = set()
    for entry in _schema_dir(version).iterdir():
        name = entry.name
        if name.endswith(".json") and not name.endswith("Response.json"):
            names.add(name.removesuffix(".json").removesuffix(version.request_suffix))
    return sorted(names)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# --- Valid payloads from a schema -----------------------------------------------------------

DATE_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
URIS = st.sampled_from(["https://csms.example.com/fw.bin", "ftp://user:pw@10.0.0.1/diag"])
# Valid strings stay short (a few characters) unless a mutation makes them huge. U+0000 is
# left to the mutations: the engine refuses it (no database column takes it).
TEXT_SIZE = 12
VALID_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
INT_LIMIT = 2**63 - 1


def minimal_instance(node: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """Return the smallest valid instance of a schema node: required fields only."""
    root = node if root is None else root
    node = _resolve(node, root)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        return {name: minimal_instance(properties[name], root) for name in node.get("required", [])}
    if kind == "array":
        return [minimal_instance(node["items"], root) for _ in range(node.get("minItems", 0))]
    if kind == "string":
        if node.get("format") == "date-time":
            return "2024-01-02T03:04:05.000Z"
        if node.get("format") == "uri":
            return "https://csms.example.com/x"
        return "x" * node.get("minLength", 0)
    if kind in ("integer", "number"):
        return node.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind is None:
        return None  # DataTransfer's data: anything
    raise AssertionError(f"no minimal instance for {node}")


def from_schema(node: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy:
    """Return a strategy of instances valid against a schema node of the OCPP schema sets."""
    root = node if root is None else root
    node = _resolve(node, root)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {name: from_schema(properties[name], root) for name in sorted(required)},
            optional={
                name: from_schema(sub, root)
                for name, sub in sorted(properties.items())
                if name not in required
            },
        )
    if kind == "array":
        low = node.get("minItems", 0)
        return st.lists(
            from_schema(node["items"], root),
            min_size=low,
            max_size=min(node.get("maxItems", low + 3), low + 3),
        )
    if kind == "string":
        if node.get("format") == "date-time":
            return DATE_TIMES
        if node.get("format") == "uri":
            return URIS
        return st.text(
            VALID_CHARACTERS,
            min_size=node.get("minLength", 0),
            max_size=min(node.get("maxLength", 50), TEXT_SIZE),
        )
    if kind == "integer":
        return st.integers(
            min_value=node.get("minimum", -INT_LIMIT - 1), max_value=node.get("maximum", INT_LIMIT)
        )
    if kind == "number":
        step = node.get("multipleOf")
        low, high = node.get("minimum"), node.get("maximum")
        if step is not None:
            unit = Decimal(str(step))
            return (
                st.integers(-(10**6), 10**6)
                .map(lambda n: float(n * unit))
                .filter(lambda x: (low is None or x >= low) and (high is None or x <= high))
            )
        return st.floats(
            min_value=low, max_value=high, allow_nan=False, allow_infinity=False, width=64
        )
    if kind == "boolean":
        return st.booleans()
    if kind is None:
        return JSON_VALUES.filter(lambda value: not _has_nul(value))  # DataTransfer's data
    raise AssertionError(f"no strategy for {node}")


@functools.cache
def request_payloads(version: OcppVersion, action: str) -> st.SearchStrategy:
    return from_schema(request_schema(version, action))


# --- The engine under test, with stub handlers ---------------------------------------------


class Behaviour:
    """How the stub handlers answer, for one example."""

    OK = "ok"  # a valid response
    CRASH = "crash"  # raise RuntimeError
    OCPP_ERROR = "ocpp_error"  # raise an OcppError
    OUT_OF_SCHEMA = "out_of_schema"  # a response breaking the schema
    NOT_JSON = "not_json"  # a response that is not JSON at all


BEHAVIOURS = st.sampled_from(
    [Behaviour.OK] * 4
    + [Behaviour.CRASH, Behaviour.OCPP_ERROR, Behaviour.OUT_OF_SCHEMA, Behaviour.NOT_JSON]
)


def stub_handler(version: OcppVersion, action: str, behaviour: str) -> Callable[..., dict]:
    schema = response_schema(version, action)
    valid = minimal_instance(schema) if schema is not None else {}

    def handler(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
        if behaviour == Behaviour.CRASH:
            raise RuntimeError("stub handler crashed")
        if behaviour == Behaviour.OCPP_ERROR:
            raise OcppError(ErrorCode.GENERIC_ERROR, "stub handler refused")
        if behaviour == Behaviour.OUT_OF_SCHEMA:
            return {**valid, "noSuchProperty": [1, 2, 3]}
        if behaviour == Behaviour.NOT_JSON:
            return {**valid, "when": datetime.now(UTC)}
        return dict(valid)

    return handler


@functools.cache
def stub_registry(version: OcppVersion, every_action: bool, behaviour: str) -> HandlerRegistry:
    """Stubs for the real registry's actions, or for every action of the schema set."""
    registry = HandlerRegistry()
    actions = all_actions(version) if every_action else sorted(registry_for(version).actions())
    for action in actions:
        registry.handles(action)(stub_handler(version, action, behaviour))
    return registry


@dataclass(frozen=True)
class Setup:
    """One example's engine: version, stubs, and whether the station is accepted."""

    version: OcppVersion
    every_action: bool
    behaviour: str
    accepted: bool

    def engine(self) -> Engine:
        return Engine(self.version, stub_registry(self.version, self.every_action, self.behaviour))

    def context(self) -> HandlerContext:
        return HandlerContext(
            charger_id="FUZZ-1", station_id=1, version=self.version, accepted=self.accepted
        )

    def handled(self, action: str) -> bool:
        registry = stub_registry(self.version, self.every_action, self.behaviour)
        return registry.get(action) is not None


def setups(version: OcppVersion | None = None) -> st.SearchStrategy[Setup]:
    return st.builds(
        Setup,
        version=st.just(version) if version else st.sampled_from(VERSIONS),
        every_action=st.booleans(),
        behaviour=BEHAVIOURS,
        accepted=st.booleans() | st.just(True),
    )


# --- The oracle ----------------------------------------------------------------------------


def _decode(raw: str | bytes) -> tuple[bool, Any]:
    try:
        return True, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False, None


def _message_id(message: Any) -> str:
    if isinstance(message, list) and len(message) > 1:
        candidate = message[1]
        if isinstance(candidate, str) and 0 < len(candidate) <= 36:
            return candidate
    return "-1"


def _is_int(value: Any) -> bool:
    return type(value) is int


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _wellformed_send(message: list) -> bool:
    return (
        len(message) == 4
        and isinstance(message[1], str)
        and 0 < len(message[1]) <= 36
        and isinstance(message[2], str)
        and bool(message[2])
        and isinstance(message[3], dict)
    )


def check_replies(
    version: OcppVersion, raw: str | bytes, replies: list[str], max_frame_bytes: int = 0
) -> str:
    """Assert that `replies` is the right answer to `raw`; return a label for statistics.

    With `max_frame_bytes`, a bigger frame is not parsed: it gets a FormatViolation when its
    start shows a CALL's message id, and is only logged otherwise.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if max_frame_bytes and size > max_frame_bytes:
        assert len(replies) <= 1, replies
        if not replies:
            return "oversized: no reply"
        reply = orjson.loads(replies[0])
        code = FORMAT_VIOLATION[version]
        assert reply[0] == 4 and reply[2] == code and reply[1] in text, reply
        return "oversized: CALLERROR FormatViolation"
    parsed, message = _decode(raw)
    if parsed and isinstance(message, list) and message and _is_int(message[0]):
        if message[0] in ANSWER_TYPES[version]:
            assert replies == [], f"an answer frame was answered: {replies}"
            return "answer: no reply"
        if version is V21 and message[0] == SEND:
            if _wellformed_send(message):
                assert replies == [], f"a SEND was answered: {replies}"
                return "SEND: no reply"
            # A broken SEND: at most a CALLERROR (see docs/robustness.md).
            assert len(replies) <= 1
            if not replies:
                return "broken SEND: no reply"
    assert len(replies) == 1, f"expected exactly one reply to {raw[:200]!r}, got {replies}"
    reply = orjson.loads(replies[0])
    assert isinstance(reply, list), reply
    if parsed:
        expected_id = _message_id(message)
        assert reply[1] == expected_id, (reply, expected_id)
    else:
        # Unparseable: the id read from its start, or "-1".
        assert reply[1] == "-1" or reply[1] in text, (reply, text[:80])
    if reply[0] == 3:
        assert len(reply) == 3 and isinstance(reply[2], dict), reply
        return "CALLRESULT"
    assert reply[0] == 4 and len(reply) == 5, reply
    _, _, code, description, details = reply
    assert code in ERROR_CODES[version], code
    assert isinstance(description, str) and len(description) <= MAX_DESCRIPTION, description
    assert isinstance(details, dict), details
    return f"CALLERROR {code}"


def check_engine(setup: Setup, raw: str | bytes) -> str:
    """Feed one frame to a fresh engine; assert the properties; return a label."""
    outcome = setup.engine().receive(raw, setup.context())  # nothing may escape
    label = check_replies(setup.version, raw, outcome.replies)
    if label == "CALLRESULT":
        _, message = _decode(raw)
        _, _, action, payload = message
        assert setup.behaviour == Behaviour.OK, "a CALLRESULT although the handler failed"
        assert setup.handled(action)
        assert setup.accepted or action == "BootNotification"
        assert is_valid_request(setup.version, action, payload), "invalid request answered"
        assert not _has_nul(payload), "a NUL reached a handler"
        result = orjson.loads(outcome.replies[0])[2]
        assert is_valid_response(setup.version, action, result), result
    if currently_in_test_context():
        event(label)
    return label


# --- Frames: random, and mutations of valid ones --------------------------------------------

MESSAGE_TYPES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, -1, 2.0, "2", True, None, 2**40])
MESSAGE_IDS = st.sampled_from(
    ["", "a" * 36, "a" * 37, "-1", "ü" * 36, '"', "\\", "\x00", "a\x00b", 1, None, [], {}]
) | st.text(min_size=1, max_size=40)
# A placeholder a mutation puts in the tree, replaced by deep nesting once encoded.
DEEP = "\x00deep-nesting\x00"
BAD_STRINGS = st.sampled_from(
    [
        "2024-13-45T99:99:99Z",
        "yesterday",
        "",
        "\x00",
        "\u202e",
        "🔌⚡",
        "x" * 256,
        "-1",
        "1e309",
        "NaN",
    ]
)
BIG_NUMBERS = st.sampled_from(
    [2**31, 2**63 - 1, -(2**63), 2**64, 10**30, -1, 0.5, -0.0, 1e308, -1e-308]
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a JSON tree, the root first."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


def _deleted(value: Any, path: tuple) -> Any:
    if len(path) == 1:
        if isinstance(value, dict):
            return {key: child for key, child in value.items() if key != path[0]}
        return value[: path[0]] + value[path[0] + 1 :]
    head = path[0]
    if isinstance(value, dict):
        return {**value, head: _deleted(value[head], path[1:])}
    copy = list(value)
    copy[head] = _deleted(copy[head], path[1:])
    return copy


@st.composite
def mutated_tree(draw: st.DrawFn, value: Any) -> Any:
    """One structural mutation somewhere in a JSON tree."""
    paths = _paths(value)
    path = draw(st.sampled_from(paths))
    kind = draw(
        st.sampled_from(
            ["drop", "retype", "add", "huge_string", "deep", "bad_string", "big_number"]
        )
    )
    if kind == "drop":
        if not path:
            return value
        return _deleted(value, path)
    if kind == "retype":
        return _replaced(value, path, draw(JSON_VALUES))
    if kind == "add":
        containers = [p for p in paths if isinstance(_at(value, p), dict | list)]
        where = draw(st.sampled_from(containers)) if containers else ()
        node = _at(value, where)
        if isinstance(node, dict):
            extra = {draw(st.text(min_size=1, max_size=12)): draw(JSON_VALUES)}
            return _replaced(value, where, {**node, **extra})
        if isinstance(node, list):
            return _replaced(value, where, [*node, draw(JSON_VALUES)])
        return value
    if kind == "huge_string":
        size = draw(st.integers(1_000, 200_000))
        return _replaced(value, path, draw(st.characters()) * size)
    if kind == "deep":
        return _replaced(value, path, DEEP)
    if kind == "bad_string":
        return _replaced(value, path, draw(BAD_STRINGS))
    return _replaced(value, path, draw(BIG_NUMBERS))


def _at(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def encode(message: Any, depth: int) -> str:
    """JSON text of a message; the DEEP placeholder becomes `depth` nested arrays."""
    text = json.dumps(message, ensure_ascii=False)
    marker = json.dumps(DEEP, ensure_ascii=False)
    return text.replace(marker, "[" * depth + "1" + "]" * depth)


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str | bytes:
    """A text-level mutation: truncation, insertion, invalid UTF-8, junk around it."""
    kind = draw(st.sampled_from(["truncate", "insert", "bytes", "flip", "wrap", "none"]))
    if kind == "truncate" and text:
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(min_size=1, max_size=5)) + text[at:]
    if kind == "bytes":
        data = text.encode("utf-8", "surrogatepass")
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if kind == "flip" and text:
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "wrap":
        before = draw(st.sampled_from(["", " ", "\ufeff", "\n\t", "[", "{"]))
        after = draw(st.sampled_from(["", " ", "]", ",", "x", "\x00"]))
        return before + text + after
    return text


@st.composite
def mutated_frames(draw: st.DrawFn, version: OcppVersion) -> str | bytes:
    """A valid CALL (or 2.1 SEND) of any action of `version`, then mutated up to 3 times."""
    action = draw(st.sampled_from(all_actions(version)))
    payload = draw(request_payloads(version, action))
    message_type = 6 if version is V21 and draw(st.integers(0, 9)) == 0 else 2
    message: Any = [message_type, uuid.UUID(int=draw(st.integers(0, 2**128 - 1))).hex, action]
    message.append(payload)
    for _ in range(draw(st.integers(0, 3))):
        # Mostly inside the payload, where the schema validation is exercised.
        part = draw(st.sampled_from(["payload"] * 6 + ["type", "id", "action", "arity"]))
        if not isinstance(message, list) or len(message) < 4:
            part = "payload-root"
        if part == "payload":
            message[3] = draw(mutated_tree(message[3]))
        elif part == "payload-root":
            message = draw(mutated_tree(message))
        elif part == "type":
            message[0] = draw(MESSAGE_TYPES)
        elif part == "id":
            message[1] = draw(MESSAGE_IDS)
        elif part == "action":
            message[2] = draw(
                st.sampled_from(all_actions(version))
                | st.text(max_size=20)
                | st.text(min_size=65, max_size=300)  # longer than the log's column
                | JSON_SCALARS
            )
        elif draw(st.booleans()):
            message = message[: draw(st.integers(0, len(message) - 1))]
        else:
            message = [*message, draw(JSON_VALUES)]
    text = encode(message, draw(st.sampled_from([1, 20, 500, 1100, 5000])))
    if draw(st.integers(0, 4)) == 0:
        return draw(mutated_text(text))
    return text


def random_json_frames() -> st.SearchStrategy[str]:
    """Random JSON, mostly arrays that start like OCPP-J frames."""
    framed = st.tuples(MESSAGE_TYPES, MESSAGE_IDS, st.lists(JSON_VALUES, max_size=4)).map(
        lambda parts: [parts[0], parts[1], *parts[2]]
    )
    return (JSON_VALUES | framed).map(lambda value: json.dumps(value, ensure_ascii=False))


RANDOM_TEXT = st.text() | st.binary() | st.text(alphabet='[]{}",:0123456789 -2a')
# Lone surrogates cannot travel in a websocket text frame, but the engine takes any str.
SURROGATE_TEXT = st.text(alphabet=st.characters(categories=["Cs"]) | st.sampled_from('[2,"]'))


# --- The properties: run here briefly, and at length by scripts/fuzz.py --------------------


def mutated_frame_property(setup: Setup, data: st.DataObject) -> str:
    return check_engine(setup, data.draw(mutated_frames(setup.version), label="frame"))


def valid_request_property(version: OcppVersion, data: st.DataObject) -> str:
    """A schema-valid request to an accepted station whose handler answers gets a CALLRESULT."""
    setup = Setup(version, every_action=True, behaviour=Behaviour.OK, accepted=True)
    action = data.draw(st.sampled_from(all_actions(version)), label="action")
    payload = data.draw(request_payloads(version, action), label="payload")
    assert is_valid_request(version, action, payload), payload
    message_type = 6 if version is V21 and response_schema(version, action) is None else 2
    raw = json.dumps([message_type, "valid-1", action, payload], ensure_ascii=False)

    label = check_engine(setup, raw)

    assert label == ("SEND: no reply" if message_type == 6 else "CALLRESULT"), label
    return label


@dataclass(frozen=True)
class Property:
    strategies: dict[str, st.SearchStrategy]
    check: Callable[..., str]  # asserts; returns a label of how the frame was answered


ENGINE_PROPERTIES: dict[str, Property] = {
    "random_text": Property({"setup": setups(), "raw": RANDOM_TEXT | SURROGATE_TEXT}, check_engine),
    "random_json": Property({"setup": setups(), "raw": random_json_frames()}, check_engine),
    "mutated_frames": Property({"setup": setups(), "data": st.data()}, mutated_frame_property),
    "valid_requests": Property(
        {"version": st.sampled_from(VERSIONS), "data": st.data()}, valid_request_property
    ),
}


@IN_SUITE
@given(**ENGINE_PROPERTIES["random_text"].strategies)
def test_random_text_gets_one_wellformed_answer(setup: Setup, raw: str | bytes) -> None:
    check_engine(setup, raw)


@IN_SUITE
@given(**ENGINE_PROPERTIES["random_json"].strategies)
def test_random_json_gets_one_wellformed_answer_or_none(setup: Setup, raw: str) -> None:
    check_engine(setup, raw)


@IN_SUITE
@given(**ENGINE_PROPERTIES["mutated_frames"].strategies)
def test_mutated_frames_of_every_action_get_one_wellformed_answer_or_none(
    setup: Setup, data: st.DataObject
) -> None:
    mutated_frame_property(setup, data)


@IN_SUITE
@given(**ENGINE_PROPERTIES["valid_requests"].strategies)
def test_valid_requests_get_a_valid_callresult(version: OcppVersion, data: st.DataObject) -> None:
    valid_request_property(version, data)


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize("depth", [255, 256, 1000])
def test_a_payload_nested_deeper_than_the_validator_goes_is_a_format_violation(
    version: OcppVersion, depth: int
) -> None:
    # Found by the fuzzer: the schema validator raised ValueError past 255 levels, and it
    # escaped Engine.receive. orjson itself parses up to 1024 levels.
    setup = Setup(version, every_action=False, behaviour=Behaviour.OK, accepted=True)
    payload = {"vendorId": "[" * depth + "1" + "]" * depth}
    raw = encode([2, "deep-1", "DataTransfer", payload], 1).replace(
        json.dumps(payload["vendorId"]), payload["vendorId"]
    )

    label = check_engine(setup, raw)

    assert label in (f"CALLERROR {FORMAT_VIOLATION[version]}", "CALLERROR TypeConstraintViolation")


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize(
    "payload",
    [{"vendorId": "V\x00"}, {"vendorId": "V", "data": {"k\x00": 1}}],
    ids=["value", "key"],
)
def test_a_nul_anywhere_in_the_payload_is_a_property_constraint_violation(
    version: OcppVersion, payload: dict
) -> None:
    # PostgreSQL stores no U+0000 (text or jsonb): found by the socket fuzz on PostgreSQL.
    setup = Setup(version, every_action=False, behaviour=Behaviour.OK, accepted=True)

    label = check_engine(setup, json.dumps([2, "nul-1", "DataTransfer", payload]))

    assert label == "CALLERROR PropertyConstraintViolation"


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    setup = Setup(V16, every_action=False, behaviour=Behaviour.OK, accepted=True)
    raw = json.dumps([2, "not-nul-1", "DataTransfer", {"vendorId": "\\u0000"}])
    assert "\\\\u0000" in raw  # the text holds the escape sequence, the value does not

    assert check_engine(setup, raw) == "CALLRESULT"


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_the_generator_knows_every_schema(version: OcppVersion) -> None:
    for action in all_actions(version):
        assert is_valid_request(version, action, minimal_instance(request_schema(version, action)))
        request_payloads(version, action).validate()
        schema = response_schema(version, action)
        if schema is not None:
            assert is_valid_response(version, action, minimal_instance(schema))
            from_schema(schema).validate()
    # The engine serves the same action set as the schemas read here.
    assert set(all_actions(version)) == set(schemas.actions(version))


# --- Over a real socket --------------------------------------------------------------------

SOCKET_FRAMES = 50
MAX_FRAME_BYTES = 64 * 1024


def _socket_frames() -> st.SearchStrategy[list[str | bytes]]:
    one = (
        st.sampled_from([V16]).flatmap(mutated_frames)
        | random_json_frames()
        | RANDOM_TEXT
        # Some valid frames of the actions the server handles: the real handlers run too.
        | st.sampled_from(sorted(registry_for(V16).actions())).flatmap(
            lambda action: request_payloads(V16, action).map(
                lambda payload: json.dumps([2, "ok-" + action[:30], action, payload])
            )
        )
    )
    return st.lists(one, min_size=SOCKET_FRAMES, max_size=SOCKET_FRAMES)


async def _fuzz_one_connection(ws_url: str, raws: list[str | bytes]) -> dict[str, int]:
    """Send each frame, then a probe Heartbeat; what comes before the probe's answer is the
    frame's reply (frames of a connection are processed in order), so no timing is assumed.
    """
    labels: dict[str, int] = {}
    async with websockets.connect(
        f"{ws_url}/ocpp/FUZZ-SOCKET", subprotocols=["ocpp1.6"], max_size=None
    ) as ws:
        for raw in raws:
            probe = f"probe-{uuid.uuid4().hex[:24]}"
            # OCPP-J is text frames only: a binary frame ends the connection (4003, see
            # test_bad_frames.py). Bytes go as the text they decode to (invalid UTF-8
            # replaced), which is what the server made of a binary frame before.
            seen = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            await ws.send(seen)
            await ws.send(json.dumps([2, probe, "Heartbeat", {}]))
            replies = []
            while True:
                text = await asyncio.wait_for(ws.recv(), 20)
                if orjson.loads(text)[1] == probe:
                    assert orjson.loads(text)[0] == 3, f"the probe failed after {raw!r}: {text}"
                    break
                replies.append(text)
            label = check_replies(V16, seen, replies, MAX_FRAME_BYTES)
            labels[label] = labels.get(label, 0) + 1
        heartbeat = await _exchange(ws, [2, "last-heartbeat", "Heartbeat", {}])
    assert heartbeat[:2] == [3, "last-heartbeat"] and "currentTime" in heartbeat[2]
    return labels


async def _exchange(ws: Any, message: list) -> list:
    await ws.send(json.dumps(message))
    return orjson.loads(await asyncio.wait_for(ws.recv(), 20))


@pytest.mark.django_db(transaction=True)
async def test_frames_no_database_column_takes_as_they_are_are_answered_and_logged(
    asgi_server, settings
) -> None:
    # Found by the socket fuzz on PostgreSQL: the message log rows of a group-commit batch
    # are inserted together, and one PostgreSQL refused (a NUL, an action longer than its
    # column) failed the whole batch: no answer, or InternalError, for every job in it.
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    frames_and_codes = [
        ('[2,"nul-payload","DataTransfer",{"vendorId":"V\\u0000"}]', "PropertyConstraintViolation"),
        ('[2,"nul-action","Heart\\u0000beat",{}]', "NotImplemented"),
        (json.dumps([2, "long-action", "A" * 100, {}]), "NotImplemented"),
        ("\x00\x00 not json", FORMAT_VIOLATION[V16]),
    ]
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/FUZZ-STORE", subprotocols=["ocpp1.6"]
    ) as ws:
        for raw, code in frames_and_codes:
            await ws.send(raw)
            reply = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
            assert reply[0] == 4 and reply[2] == code, (raw, reply)
        heartbeat = await _exchange(ws, [2, "nul\u0000id", "Heartbeat", {}])
        assert heartbeat[:2] == [3, "nul\u0000id"]

    logged = await sync_to_async(
        lambda: list(
            MessageLog.objects.filter(charger_id="FUZZ-STORE", direction="in").values_list(
                "message_id", "action", "frame"
            )
        )
    )()
    assert len(logged) == len(frames_and_codes) + 1
    assert all("\x00" not in "".join(row) for row in logged)
    assert ("nul\ufffdid", "Heartbeat") in {row[:2] for row in logged}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("unit", "answer", "stored"),
    [
        pytest.param({"unit": "U" * 20}, 3, ("1.5", "U" * 16, 1.5), id="unit-of-20"),
        pytest.param({"multiplier": 400}, 3, ("1.5", "", None), id="multiplier-overflows"),
        pytest.param({"multiplier": -40000}, 4, None, id="multiplier-out-of-column"),
    ],
)
async def test_readings_at_the_schemas_edges_fail_alone_or_are_stored(
    asgi_server, settings, unit, answer, stored
):
    # OCPP 2.x allows a unit of 20 characters and any multiplier. A reading PostgreSQL
    # refused at the end of a group-commit batch failed every job of that batch.
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    reading = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "2024-01-02T03:04:05.000Z",
                "sampledValue": [{"value": 1.5, "unitOfMeasure": unit}],
            }
        ],
    }
    async with websockets.connect(
        f"{asgi_server.ws_url}/ocpp/FUZZ-UNIT", subprotocols=["ocpp2.0.1"]
    ) as ws:
        reply = await _exchange(ws, [2, "unit-1", "MeterValues", reading])
        heartbeat = await _exchange(ws, [2, "unit-2", "Heartbeat", {}])

    assert reply[:2] == [answer, "unit-1"]
    assert heartbeat[0] == 3
    rows = await sync_to_async(
        lambda: list(
            MeterValue.objects.filter(station__charger_id="FUZZ-UNIT").values_list(
                "value", "unit", "normalized_value"
            )
        )
    )()
    assert rows == ([stored] if stored else [])


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(raws=_socket_frames())
def test_a_connection_survives_random_frames_and_still_answers(asgi_server, settings, raws):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_MAX_FRAME_BYTES = MAX_FRAME_BYTES

    labels = asyncio.run(_fuzz_one_connection(asgi_server.ws_url, raws))

    assert sum(labels.values()) == SOCKET_FRAMES
