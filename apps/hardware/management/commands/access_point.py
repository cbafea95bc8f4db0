"""Print, apply or take down this node's Wi-Fi access point (nmcli), or show its status."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from apps.hardware import access_point as ap
from apps.nodes.features import AP_PUBLIC_WIFI, AP_ROUTER, feature_active


class Command(BaseCommand):
    help = (
        "Print the nmcli commands of the configured access point (--print-commands, the "
        "password masked), run them (--apply, as root), take it down (--down, as root) or "
        "show its status and clients (--status [--json])."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interface", help="the access point of this interface")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--print-commands", action="store_true")
        action.add_argument("--apply", action="store_true")
        action.add_argument("--down", action="store_true")
        action.add_argument("--status", action="store_true")
        parser.add_argument("--json", action="store_true", help="with --status: print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["apply"] or options["down"]) and os.geteuid() != 0:
            raise CommandError(
                _(
                    "configuring the access point needs root: run it with sudo (the lifecycle "
                    "scripts do)"
                )
            )
        configured = ap.access_point_get(interface=options["interface"])
        if options["down"]:
            self._run(ap.ap_down_commands())
            return
        if configured is None:
            raise CommandError(_("no access point is configured (admin: Hardware → Access points)"))
        if options["status"]:
            self._status(configured.interface, options["json"])
            return
        try:
            spec = ap.access_point_spec(access_point=configured)
        except ap.AccessPointError as exc:
            raise CommandError(str(exc)) from exc
        commands = ap.ap_commands(spec)
        if options["print_commands"]:
            for argv in ap.commands_shown(commands):
                self.stdout.write(shlex.join(argv))
            return
        feature = AP_PUBLIC_WIFI if spec.mode == ap.PUBLIC else AP_ROUTER
        if not feature_active(feature):
            raise CommandError(
                _(
                    "the %(feature)s feature is off on this node: switch it on first "
                    "(manage.py node --feature %(feature)s=on)"
                )
                % {"feature": feature}
            )
        self._run(commands)

    def _run(self, commands: list[list[str]]) -> None:
        try:
            outcomes = ap.ap_apply(commands)
        except ap.AccessPointError as exc:
            raise CommandError(str(exc)) from exc
        for outcome in outcomes:
            self.stdout.write(f"$ {shlex.join(outcome.argv)}  → {outcome.returncode}")
            if outcome.output:
                self.stdout.write(f"  {outcome.output}")
        last = outcomes[-1]
        if last.returncode != 0 or len(outcomes) < len(commands):
            raise CommandError(
                _("nmcli failed (exit %(code)s): %(output)s")
                % {"code": last.returncode, "output": last.output}
            )

    def _status(self, interface: str, as_json: bool) -> None:
        status = ap.ap_status(interface=interface)
        if as_json:
            data = {
                "available": status.available,
                "active": status.active,
                "ssid": status.ssid,
                "addresses": status.addresses,
                "detail": status.detail,
                "clients": [
                    {
                        "mac": c.mac,
                        "ip": c.ip,
                        "hostname": c.hostname,
                        "signal_dbm": c.signal_dbm,
                        "connected_s": c.connected_s,
                    }
                    for c in status.clients
                ],
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        state = _("active") if status.active else _("not active")
        self.stdout.write(
            f"{state}: {status.ssid or '-'} {' '.join(status.addresses)} ({status.detail})"
        )
        for c in status.clients:
            self.stdout.write(f"  {c.mac} {c.ip or '-'} {c.hostname or '-'}")
