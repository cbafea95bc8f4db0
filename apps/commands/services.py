"""The one command path to chargers (admin, API, CLI, Celery all come through here).

`send_command` stores a ChargerCommand and tells the charger's channel-layer group; the
process holding that charger's socket sends the CALL, and `command_complete` stores the
outcome with its side effects. The database row is the source of truth: a server process
also picks up pending commands of its chargers from the database every
OCPP_COMMAND_POLL_INTERVAL seconds, so a lost channel-layer message only delays a command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation
from apps.chargers.tenancy import station_visible_to
from apps.commands import statements
from apps.commands.errors import CommandError, StationNotVisible
from apps.commands.models import FINAL_STATUSES, ChargerCommand, CommandStatus
from apps.commands.registry import apply_effects
from apps.commands.signals import command_limit_reached
from apps.core.events import CommandFinished
from apps.core.live import publish
from apps.core.timeutil import utcnow
from apps.protocol import schemas
from apps.protocol.directions import csms_initiated
from apps.protocol.errors import OcppError

logger = logging.getLogger(__name__)

# Statuses a charger answers with that mean "no": everything else in a `status` is a yes.
NEGATIVE_STATUSES = frozenset(
    {
        "Rejected",
        "Failed",
        "NotSupported",
        "NotImplemented",
        "UnknownVendorId",
        "UnknownMessageId",
        "UnlockFailed",
        "OngoingAuthorizedTransaction",
        "UnknownConnector",
        "Faulted",
        "Occupied",
        "Unavailable",
        "VersionMismatch",
        "NotFound",
        "InvalidCertificate",
        "RevokedCertificate",
        # OCPP 2.1 tariff messages (SetDefaultTariff, ChangeTransactionTariff).
        "TooManyElements",
        "ConditionNotSupported",
        "DuplicateTariffId",
        "TxNotFound",
        "NoCurrencyChange",
    }
)


def station_group(station_id: int) -> str:
    """Return the channel-layer group of the connection serving the station."""
    return f"charger.{station_id}"


def _version_of(station: ChargingStation):
    return station.protocol_version


# Stands for a secret in a stored payload (a password pushed to a station): the database and
# the message log keep this; the secret itself waits in the cache until the CALL is sent.
SECRET_PLACEHOLDER = "********"


# The configuration that holds a station's HTTP Basic password, per protocol family. Only the
# password rotation (security's station_password_rotate, operation rotate_password) sets it:
# it keeps the password out of the command row and the message log, sends it as each version
# wants it and moves the station's stored hash along when the station accepts.
PASSWORD_KEY_16 = "AuthorizationKey"
PASSWORD_KEY_2X = "SecurityCtrlr/BasicAuthPassword"


def sets_station_password(action: str, payload: dict[str, Any]) -> bool:
    """Tell whether a command would set the station's Basic password (names ignore case)."""
    if action == "ChangeConfiguration":
        return str(payload.get("key", "")).casefold() == PASSWORD_KEY_16.casefold()
    if action == "SetVariables":
        component, variable = (part.casefold() for part in PASSWORD_KEY_2X.split("/"))
        return any(
            str(item.get("component", {}).get("name", "")).casefold() == component
            and str(item.get("variable", {}).get("name", "")).casefold() == variable
            for item in payload.get("setVariableData", [])
        )
    return False


def _secret_key(command_id: int) -> str:
    return f"ocpp:command-secret:{command_id}"


def payload_for_sending(command: ChargerCommand) -> dict[str, Any]:
    """Return the payload to put on the wire: placeholders replaced by the command's secret."""
    if SECRET_PLACEHOLDER not in str(command.payload):
        # Nothing to fill: the command must not depend on the cache (Redis) being up, or a
        # Redis outage leaves every claimed command "sent" and never sent (tests/faults).
        return command.payload
    secret = cache.get(_secret_key(command.pk))
    if secret is None:
        return command.payload

    def fill(value: Any) -> Any:
        if value == SECRET_PLACEHOLDER:
            return secret
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    return fill(command.payload)


def send_command(
    *,
    station: ChargingStation,
    action: str,
    payload: dict[str, Any],
    timeout: float | None = None,
    requested_by: Any = None,
    source: str = "api",
    secret: str | None = None,
) -> ChargerCommand:
    """Store a command for `station` and route it to the process holding its socket.

    Raise CommandError when `action` is not a command of the station's OCPP version or the
    payload breaks its schema. With `secret`, every SECRET_PLACEHOLDER value in the payload
    is replaced by it only on the wire: it is never stored in the database or the log.
    Setting the station password (PASSWORD_KEY_16, PASSWORD_KEY_2X) needs such a secret: a
    raw payload that sets it is refused.
    A user in `requested_by` who may not see the station (apps/chargers/tenancy.py) gets
    StationNotVisible, a CommandError.
    A station that is not connected gets status offline at once unless
    OCPP_QUEUE_OFFLINE_COMMANDS keeps it pending until the station reconnects.
    """
    if getattr(requested_by, "is_authenticated", False) and not station_visible_to(
        requested_by, station
    ):
        # Every origin with a user (admin, API, Slack) comes through here: one check for all.
        raise StationNotVisible(_("No charger with id %(id)s.") % {"id": station.charger_id})
    version = _version_of(station)
    if action not in schemas.actions(version):
        raise CommandError(f"{action} is not an OCPP {version} action")
    if action not in csms_initiated(version):
        raise CommandError(f"{action} is sent by chargers, not to them")
    try:
        schemas.validate_request(version, action, payload)
    except OcppError as exc:
        raise CommandError(f"invalid payload: {exc.description}") from exc
    if secret is not None and SECRET_PLACEHOLDER not in str(payload):
        raise CommandError("a secret was given but the payload has no place for it")
    if secret is None and sets_station_password(action, payload):
        raise CommandError(
            _(
                "The station password is not set by a raw command (it would be stored in clear "
                "and this server would not know it): use the operation rotate_password "
                "(Rotate password on the station page; POST /api/commands/operations/ with "
                '"operation": "rotate_password").'
            )
        )
    outstanding = ChargerCommand.objects.filter(
        station=station, status__in=[CommandStatus.PENDING, CommandStatus.SENT]
    ).count()
    if outstanding >= settings.OCPP_MAX_OUTSTANDING_COMMANDS:
        # The security app records it as a security event (commands may not import it).
        command_limit_reached.send(
            sender=ChargerCommand, station=station, action=action, outstanding=outstanding
        )
        raise CommandError(
            f"{outstanding} commands are already waiting for this charger "
            f"(limit OCPP_MAX_OUTSTANDING_COMMANDS={settings.OCPP_MAX_OUTSTANDING_COMMANDS})"
        )
    timeout_s = float(timeout if timeout is not None else settings.OCPP_COMMAND_TIMEOUT)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    command = ChargerCommand.objects.create(
        station=station,
        action=action,
        payload=payload,
        timeout_s=timeout_s,
        requested_by=user,
        source=source,
    )
    if secret is not None:
        keep_s = timeout_s + (
            settings.OCPP_QUEUED_COMMAND_TTL if settings.OCPP_QUEUE_OFFLINE_COMMANDS else 60
        )
        cache.set(_secret_key(command.pk), secret, keep_s)
    station.refresh_from_db(fields=["is_connected"])
    if not station.is_connected and not settings.OCPP_QUEUE_OFFLINE_COMMANDS:
        command_finish(
            command=command,
            status=CommandStatus.OFFLINE,
            error_description="the charger is not connected",
        )
        return command
    transaction.on_commit(lambda: _notify(station.pk, command.pk))
    return command


# Hands a command to this process's connection of the station, from any thread; returns
# False when no connection of this process serves it. apps.ocpp sets it (this app may not
# import it) with `command_delivery_set`.
_local_delivery: Callable[[int, int], bool] | None = None


def command_delivery_set(deliver: Callable[[int, int], bool] | None) -> None:
    """Set how a command reaches a charger socket held by this process (apps.ocpp)."""
    global _local_delivery
    _local_delivery = deliver


def _notify(station_id: int, command_id: int) -> None:
    layer = get_channel_layer()
    deliver = _local_delivery
    if deliver is not None and isinstance(layer, InMemoryChannelLayer):
        # An in-memory layer lives on the server's event loop: a thread that is not one of
        # its own (a hardware service sending a card's RemoteStart) must not touch it. The
        # socket, if any, is in this process anyway: hand the command over thread-safely.
        try:
            if deliver(station_id, command_id):
                return
        except Exception:
            logger.warning("command %s: local delivery failed", command_id, exc_info=True)
    try:
        async_to_sync(layer.group_send)(
            station_group(station_id), {"type": "ocpp.command", "command_id": command_id}
        )
    except Exception:
        # The row is stored; the server's database poll will still deliver it.
        logger.warning("command %s: channel layer unavailable", command_id, exc_info=True)


def command_claim(*, command_id: int, message_id: str) -> ChargerCommand | None:
    """Mark a pending command sent; return it, or None if another process took it first."""
    now = utcnow()
    claimed = ChargerCommand.objects.filter(pk=command_id, status=CommandStatus.PENDING).update(
        status=CommandStatus.SENT, sent_at=now, message_id=message_id
    )
    if not claimed:
        return None
    return ChargerCommand.objects.select_related("station").get(pk=command_id)


def command_finish(
    *,
    command: ChargerCommand,
    status: str,
    response: dict | None = None,
    error_code: str = "",
    error_description: str = "",
) -> ChargerCommand:
    command.status = status
    command.response = response
    command.error_code = error_code
    command.error_description = error_description
    command.completed_at = utcnow()
    command.save(
        update_fields=["status", "response", "error_code", "error_description", "completed_at"]
    )
    publish(
        CommandFinished(
            command=command.pk,
            station=command.station_id,
            action=command.action,
            status=status,
            error_code=error_code,
            error_description=error_description,
            at=command.completed_at,
        )
    )
    return command


def command_complete(
    *,
    command: ChargerCommand,
    response: dict | None = None,
    error_code: str = "",
    error_description: str = "",
) -> ChargerCommand:
    """Store the charger's answer (CALLRESULT payload, or CALLERROR code) and its effects."""
    with transaction.atomic():
        if error_code:
            return command_finish(
                command=command,
                status=CommandStatus.ERROR,
                error_code=error_code,
                error_description=error_description,
            )
        assert response is not None
        answer = response.get("status")
        if isinstance(answer, str) and answer in NEGATIVE_STATUSES:
            status = CommandStatus.REJECTED
        else:
            status = CommandStatus.ACCEPTED
        command_finish(command=command, status=status, response=response)
        apply_effects(command=command, response=response)
    return command


def command_time_out(*, command: ChargerCommand) -> ChargerCommand:
    return command_finish(
        command=command,
        status=CommandStatus.TIMEOUT,
        error_description=f"no answer within {command.timeout_s:g} s",
    )


def commands_expire_stale(*, grace_s: float = 30.0) -> int:
    """Time out commands left pending or sent past their timeout (their process died)."""
    now = utcnow()
    expired = 0
    open_commands = ChargerCommand.objects.filter(
        status__in=[CommandStatus.PENDING, CommandStatus.SENT]
    )
    for command in open_commands:
        started = command.sent_at or command.created_at
        limit = command.timeout_s + grace_s
        if command.status == CommandStatus.PENDING and settings.OCPP_QUEUE_OFFLINE_COMMANDS:
            limit = max(limit, settings.OCPP_QUEUED_COMMAND_TTL)
        if started + timedelta(seconds=limit) < now:
            updated = ChargerCommand.objects.filter(pk=command.pk, status=command.status).update(
                status=CommandStatus.TIMEOUT,
                completed_at=now,
                error_description="no outcome: the connection serving it went away",
            )
            expired += updated
    return expired


# Stations asked about per statement by pending_command_ids.
PENDING_CHUNK = 500


def pending_command_ids(*, station_ids: list[int]) -> list[tuple[int, int]]:
    """Return (station id, command id) of pending commands, oldest first.

    The poll asks this for every charger of the process every few seconds: one statement
    built once per PENDING_CHUNK stations (the ORM built its query from every id each time,
    70 ms per poll with 10,000 chargers, in a database thread).
    """
    size = PENDING_CHUNK if len(station_ids) > 1 else 1
    found = []
    for start in range(0, len(station_ids), size):
        found.extend(
            statements.command_rows_of_stations(
                status=CommandStatus.PENDING,
                station_ids=list(station_ids[start : start + size]),
                size=size,
            )
        )
    found.sort(key=lambda row: (row[0], row[1]))  # created_at, id
    return [(station_id, command_id) for _, command_id, station_id in found]


def command_wait(*, command: ChargerCommand, wait_s: float, poll_s: float = 0.1) -> ChargerCommand:
    """Return the command once it has an outcome, or as it is after `wait_s` seconds."""
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        command.refresh_from_db()
        if command.status in FINAL_STATUSES or time.monotonic() >= deadline:
            return command
        time.sleep(poll_s)
