"""Register every operation an operator can send to a station: one spec each, one way.

An operation is what the operator means ("reset", "reserve now"); its spec says which OCPP
action it sends per version, the admin form that asks for its fields, how it is sent by name
(API, CLI) and the effects the station's answer has on stored data.

The app that owns the data declares its operations in its own `operations.py` with
`register(Operation(...))`; the commands app imports every such module once, from its
`AppConfig.ready()`, with `autodiscover_modules("operations")`. Apps below commands
(chargers) cannot import commands, so the station's own operations are declared in
`apps/commands/operations.py`, with effects that call chargers' services.

Answer effects are looked up by the action of the command that was answered, whichever
operation (or raw payload) sent it: a ChangeConfiguration of AuthorizationKey records the key
(commands' effect) and promotes the rotated password (security's effect).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from apps.commands.errors import CommandError
from apps.protocol.versions import V16, V21, V201, OcppVersion

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from apps.chargers.models import ChargingStation
    from apps.commands.forms import OperationForm
    from apps.commands.models import ChargerCommand

Effect = Callable[["ChargerCommand", dict[str, Any]], None]

VERSIONS = (V16, V201, V21)


def per_version(v16: tuple[str, ...], v2: tuple[str, ...]) -> dict[OcppVersion, tuple[str, ...]]:
    """Return an operation's actions: `v16` for OCPP 1.6, `v2` for 2.0.1 and 2.1."""
    return {V16: v16, V201: v2, V21: v2}


@dataclass(frozen=True)
class Operation:
    """One operation: its label, actions per OCPP version, form, sender and answer effects."""

    name: str  # in URLs, the API and the CLI: "reset", "reserve_now"
    label: str | Promise
    help_text: str | Promise
    actions: Mapping[OcppVersion, tuple[str, ...]]  # empty tuple: not offered to that version
    form: type[OperationForm]
    # Keyword-only function (station=..., **arguments, **options) that runs it by name; None
    # when only its form can send it (its fields need files, dates or records chosen).
    send: Callable[..., ChargerCommand] | None = None
    effects: Mapping[str, Effect] = field(default_factory=dict)  # action → effect
    # False for an operation that sends another operation's action for a purpose of its own
    # (password rotation sends ChangeConfiguration); each supported action has one primary.
    primary: bool = True

    def actions_for(self, version: OcppVersion) -> tuple[str, ...]:
        """Return the actions this operation may send to a station of `version`."""
        return tuple(self.actions.get(version, ()))


_OPERATIONS: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    """Add an operation; a second one with its name, or a second owner of an action, is an error."""
    if operation.name in _OPERATIONS:
        raise ImproperlyConfigured(f"operation {operation.name!r} is registered twice")
    if operation.primary:
        for version in VERSIONS:
            for action in operation.actions_for(version):
                owner = operation_for_action(version=version, action=action)
                if owner is not None:
                    raise ImproperlyConfigured(
                        f"{action} ({version}) belongs to {owner.name!r} and {operation.name!r}"
                    )
    _OPERATIONS[operation.name] = operation
    return operation


def operations() -> list[Operation]:
    """Return every registered operation, in the order the apps registered them."""
    return list(_OPERATIONS.values())


def operation_named(name: str) -> Operation | None:
    return _OPERATIONS.get(name)


def operation_for_action(*, version: OcppVersion, action: str) -> Operation | None:
    """Return the primary operation that sends `action` to stations of `version`."""
    for operation in _OPERATIONS.values():
        if operation.primary and action in operation.actions_for(version):
            return operation
    return None


def operations_for(station: ChargingStation) -> list[Operation]:
    """Return the operations offered to the station (those with an action for its version)."""
    version = station.protocol_version
    return [operation for operation in _OPERATIONS.values() if operation.actions_for(version)]


def registered_actions(version: OcppVersion) -> frozenset[str]:
    """Return the actions the primary operations send to stations of `version`."""
    return frozenset(
        action
        for operation in _OPERATIONS.values()
        if operation.primary
        for action in operation.actions_for(version)
    )


def effects_for(action: str) -> list[Effect]:
    """Return the effects of an answer to `action`, in registration order."""
    return [
        operation.effects[action]
        for operation in _OPERATIONS.values()
        if action in operation.effects
    ]


def apply_effects(*, command: ChargerCommand, response: dict[str, Any]) -> None:
    """Apply every registered effect of the station's answer to `command`, once each."""
    for effect in effects_for(command.action):
        effect(command, response)


def runnable_names() -> list[str]:
    """Return the operations that can be run by name (API, CLI): those with a sender."""
    return [operation.name for operation in _OPERATIONS.values() if operation.send is not None]


def run_operation(
    *, station: ChargingStation, operation: str, arguments: dict[str, Any], **options: Any
) -> ChargerCommand:
    """Run an operation by name with keyword arguments (API, CLI, admin forms)."""
    spec = _OPERATIONS.get(operation)
    if spec is None or spec.send is None:
        raise CommandError(
            f"unknown operation '{operation}'; one of: {', '.join(runnable_names())}"
        )
    if not spec.actions_for(station.protocol_version):
        raise CommandError(f"{operation} is not an operation of OCPP {station.protocol_version}")
    parameters = inspect.signature(spec.send).parameters
    accepted = {
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "station"
    }
    unknown = sorted(set(arguments) - accepted)
    missing = sorted(
        name
        for name in accepted
        if parameters[name].default is inspect.Parameter.empty and name not in arguments
    )
    if unknown or missing:
        raise CommandError(
            f"{operation} takes {', '.join(sorted(accepted)) or 'no arguments'}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    return spec.send(station=station, **arguments, **options)
