"""Send an OCPP command to a charger from the command line, through the one command path.

    manage.py ocpp_command CP-1 Reset '{"type": "Soft"}' --wait 10
    manage.py ocpp_command CP-1 reset '{"hard": true}' --wait 10      # any OCPP version

An OCPP action sends that action with the payload as given; a version-neutral operation
that can be run by name (reset, remote_start, set_configuration, ...: apps/commands/registry.py)
takes its arguments as the JSON object and picks the station's action.

Prints one JSON line with the stored command, and with --wait a second one with its outcome.
Exit status: 0 accepted (or, without --wait, on its way); 1 rejected, error, timeout, offline,
or no outcome within --wait; 2 bad input (unknown charger, invalid JSON, refused payload).
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from apps.chargers.models import ChargingStation
from apps.commands import services
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import run_operation, runnable_names

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _line(command: ChargerCommand, *, outcome: bool) -> str:
    fields: dict[str, Any] = {
        "command": command.pk,
        "charger": command.station.charger_id,
        "action": command.action,
        "status": command.status,
    }
    if outcome:
        fields.update(
            response=command.response,
            error_code=command.error_code or None,
            error_description=command.error_description or None,
        )
    return json.dumps(fields, ensure_ascii=False)


class Command(BaseCommand):
    help = "Send an OCPP command to a charger and optionally wait for its answer."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("charger_id", help="The charger's id (the last part of its URL).")
        parser.add_argument(
            "action",
            help="An OCPP action (Reset, ChangeConfiguration, ...) or an operation "
            f"({', '.join(runnable_names())}).",
        )
        parser.add_argument(
            "payload",
            nargs="?",
            default="{}",
            help="The payload as a JSON object (default: {}).",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            metavar="N",
            help="Wait up to N seconds for the outcome and print it.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="S",
            help="Seconds the charger has to answer (default: OCPP_COMMAND_TIMEOUT).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        payload = self._payload(options["payload"])
        if options["timeout"] is not None and options["timeout"] <= 0:
            raise CommandError("--timeout must be a positive number", returncode=EXIT_BAD_INPUT)
        if options["wait"] < 0:
            raise CommandError("--wait must not be negative", returncode=EXIT_BAD_INPUT)
        try:
            station = ChargingStation.objects.get(charger_id=options["charger_id"])
        except ChargingStation.DoesNotExist:
            raise CommandError(
                f"unknown charger {options['charger_id']!r}", returncode=EXIT_BAD_INPUT
            ) from None
        try:
            if options["action"] in runnable_names():
                command = run_operation(
                    station=station,
                    operation=options["action"],
                    arguments=payload,
                    timeout=options["timeout"],
                    source="cli",
                )
            else:
                command = services.send_command(
                    station=station,
                    action=options["action"],
                    payload=payload,
                    timeout=options["timeout"],
                    source="cli",
                )
        except services.CommandError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from exc
        self.stdout.write(_line(command, outcome=False))
        if not command.is_final and isinstance(get_channel_layer(), InMemoryChannelLayer):
            # This process cannot reach the server's in-memory layer; the server's database
            # poll (OCPP_COMMAND_POLL_INTERVAL) picks the command up instead.
            self.stderr.write(
                "note: no shared channel layer (REDIS_URL unset): the server sends the command "
                "when it next polls the database"
            )
        if options["wait"] and not command.is_final:
            command = services.command_wait(command=command, wait_s=options["wait"])
        if options["wait"] or command.is_final:
            self.stdout.write(_line(command, outcome=True))
        self._exit(command, waited=bool(options["wait"]))

    def _payload(self, text: str) -> dict[str, Any]:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"invalid JSON payload: {exc}", returncode=EXIT_BAD_INPUT) from exc
        if not isinstance(payload, dict):
            raise CommandError("the payload must be a JSON object", returncode=EXIT_BAD_INPUT)
        return payload

    def _exit(self, command: ChargerCommand, *, waited: bool) -> None:
        if command.status == CommandStatus.ACCEPTED:
            return
        if not command.is_final:
            if not waited:
                return  # on its way; the caller did not ask to wait
            self.stderr.write(f"no outcome yet: the command is still {command.status}")
        else:
            self.stderr.write(f"{command.action} {command.get_status_display().lower()}")
        raise SystemExit(EXIT_FAILED)
