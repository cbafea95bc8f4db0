"""The official OCPP JSON schemas (shipped in the `ocpp` package), compiled once each."""

from __future__ import annotations

import functools
import json
from importlib import resources

import jsonschema_rs

from apps.protocol.errors import ErrorCode, OcppError
from apps.protocol.versions import OcppVersion

# JSON-schema keyword → the OCPP-J error that describes breaking it.
_KEYWORD_CODES: dict[str, ErrorCode] = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMAT_VIOLATION,
}


def _schema_dir(version: OcppVersion) -> resources.abc.Traversable:
    return resources.files("ocpp") / version.package / "schemas"


@functools.cache
def actions(version: OcppVersion) -> frozenset[str]:
    """Return every action the version's schema set defines (both directions)."""
    names = set()
    for entry in _schema_dir(version).iterdir():
        name = entry.name
        if not name.endswith(".json") or name.endswith("Response.json"):
            continue
        # 2.1's SEND-only messages (NotifyPeriodicEventStream) carry no "Request" suffix.
        names.add(name.removesuffix(".json").removesuffix(version.request_suffix))
    return frozenset(names)


@functools.cache
def _validator(version: OcppVersion, filename: str) -> jsonschema_rs.Validator:
    schema = json.loads((_schema_dir(version) / filename).read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True)


@functools.cache
def request_validator(version: OcppVersion, action: str) -> jsonschema_rs.Validator:
    filename = f"{action}{version.request_suffix}.json"
    if not (_schema_dir(version) / filename).is_file():
        filename = f"{action}.json"  # a SEND-only message of 2.1
    return _validator(version, filename)


@functools.cache
def response_validator(version: OcppVersion, action: str) -> jsonschema_rs.Validator:
    return _validator(version, f"{action}Response.json")


def _raise_first(validator: jsonschema_rs.Validator, payload: object, what: str) -> None:
    if validator.is_valid(payload):  # the common case, without building error iterators
        return
    for error in validator.iter_errors(payload):
        keyword = next(
            (str(part) for part in reversed(list(error.schema_path)) if isinstance(part, str)),
            "",
        )
        code = _KEYWORD_CODES.get(keyword, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        path = "/".join(str(part) for part in error.instance_path) or "(payload)"
        raise OcppError(code, f"{what}: {path}: {error.message}", {"keyword": keyword})


def validate_request(version: OcppVersion, action: str, payload: object) -> None:
    """Raise OcppError with the matching CALLERROR code when `payload` breaks the schema."""
    _raise_first(request_validator(version, action), payload, action)


def validate_response(version: OcppVersion, action: str, payload: object) -> None:
    """Raise OcppError when a response to `action` breaks its schema."""
    _raise_first(response_validator(version, action), payload, f"{action}Response")
