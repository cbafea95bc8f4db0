"""Run simulated charge points against a CSMS, all in one event loop.

    manage.py simulate --chargers 10 --ocpp 1.6 --url ws://127.0.0.1:8000/ocpp/ --duration 60

Shows live progress (one line updated in place on a terminal, a line every few seconds
otherwise) and a summary at the end. Exit status 1 with --strict when anything went wrong.
See docs/simulator.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.simulator.fleet import Fleet, FleetConfig, charger_ids
from apps.simulator.selectors import simulator_state_dir
from apps.simulator.state import DEFAULT_ID_TAG, IDLE, SCRIPTED, VERSIONS, id_tag_for
from apps.simulator.stats import Stats

SUMMARY_ROWS = [
    ("chargers", "chargers"),
    ("connections", "connections"),
    ("boots", "boots"),
    ("sessions_started", "sessions started"),
    ("sessions_stopped", "sessions stopped"),
    ("messages_sent", "messages sent"),
    ("messages_received", "messages received"),
    ("commands", "commands answered"),
    ("certificate_requests", "CSRs sent"),
    ("certificates_signed", "certs received"),
    ("errors", "errors"),
]


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


class Command(BaseCommand):
    help = "Run N simulated OCPP charge points against a CSMS (scripted sessions or idle)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--chargers", type=_positive(int), default=1, metavar="N")
        parser.add_argument("--ocpp", choices=sorted(VERSIONS), default="1.6")
        parser.add_argument(
            "--url",
            default="ws://127.0.0.1:8000/ocpp/",
            help="The CSMS endpoint; each charger appends its id (default: %(default)s).",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=0.0,
            metavar="S",
            help="Seconds to run, then stop cleanly (default: until Ctrl-C).",
        )
        parser.add_argument("--prefix", default="SIM-", help="Charger id prefix (SIM-0001...).")
        parser.add_argument("--first", type=_positive(int), default=1, help="First number.")
        parser.add_argument("--connectors", type=_positive(int), default=1)
        parser.add_argument("--meter-interval", type=_positive(float), default=10.0, metavar="S")
        parser.add_argument(
            "--session-duration",
            type=_positive(float),
            default=None,
            metavar="S",
            help="Length of a scripted session (default: six meter intervals).",
        )
        parser.add_argument(
            "--idle", action="store_true", help="Boot and send heartbeats only; no sessions."
        )
        parser.add_argument("--password", default="", help="HTTP Basic password to send.")
        parser.add_argument(
            "--id-tag",
            default=DEFAULT_ID_TAG,
            help="Tag of scripted sessions; {n}: the charger's number, {c}: the connector "
            "(default: %(default)s, so that no two sessions share a tag).",
        )
        parser.add_argument(
            "--connect-rate",
            type=float,
            default=0.0,
            metavar="R",
            help="Open at most R new connections per second (default: all at once).",
        )
        parser.add_argument(
            "--register",
            action="store_true",
            help="First record the chargers as accepted stations with the password (one is "
            "generated without --password) and their id tags as valid, in this project's "
            "database (when the target server uses it).",
        )
        parser.add_argument(
            "--progress-interval",
            type=_positive(float),
            default=5.0,
            metavar="S",
            help="Seconds between progress lines when output is not a terminal.",
        )
        parser.add_argument(
            "--no-validate",
            action="store_true",
            help="Do not check the chargers' own messages against the OCPP schemas (cheaper "
            "for large fleets).",
        )
        parser.add_argument(
            "--request-certificate",
            action="store_true",
            help="After booting, ask for a station certificate (SignCertificate) when the "
            "charger has none; keys and certificates are kept in DATA_DIR/simulator.",
        )
        parser.add_argument(
            "--organization",
            default=None,
            metavar="O",
            help="The O of the certificate signing requests (default: "
            "OCPP_CERTIFICATE_ORGANIZATION).",
        )
        parser.add_argument("--json", action="store_true", help="Also print the summary as JSON.")
        parser.add_argument(
            "--strict", action="store_true", help="Exit with status 1 if there were errors."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["chargers"]
        if len(charger_ids(options["prefix"], count, options["first"])[-1]) > 48:
            raise CommandError("charger ids would be longer than 48 characters")
        limit = 20 if options["ocpp"] == "1.6" else 36
        last = options["first"] + count - 1
        if len(id_tag_for(options["id_tag"], last, options["connectors"])) > limit:
            raise CommandError(f"OCPP {options['ocpp']} id tags are at most {limit} characters")
        if options["duration"] < 0 or options["connect_rate"] < 0:
            raise CommandError("--duration and --connect-rate must not be negative")
        config = FleetConfig(
            count=count,
            url=options["url"],
            version=options["ocpp"],
            prefix=options["prefix"],
            first=options["first"],
            connectors=options["connectors"],
            meter_interval=options["meter_interval"],
            mode=IDLE if options["idle"] else SCRIPTED,
            id_tag=options["id_tag"],
            password=options["password"],
            session_duration=options["session_duration"],
            connect_rate=options["connect_rate"],
            options={
                "validate": not options["no_validate"],
                "organization": (
                    settings.OCPP_CERTIFICATE_ORGANIZATION
                    if options["organization"] is None
                    else options["organization"]
                ),
                "state_dir": str(simulator_state_dir()),
                "request_certificate": options["request_certificate"],
            },
        )
        if options["verbosity"] >= 3:
            # Every frame in and out, as the `ocpp` library logs it.
            logging.getLogger("apps.simulator.wire").setLevel(logging.DEBUG)
        if options["register"]:
            from apps.security.passwords import password_generate
            from apps.simulator.services import StationsNotOurs, stations_register

            # Registered stations need a password while OCPP_ALLOW_UNSECURED is off.
            config.password = config.password or password_generate()
            try:
                accepted = stations_register(
                    charger_ids=charger_ids(config.prefix, count, config.first),
                    id_tags=config.id_tags,
                    label="Simulator (manage.py simulate)",
                    password=config.password,
                )
            except StationsNotOurs as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"Registered {count} station(s) ({accepted} accepted) with "
                + ("the given password" if options["password"] else "a generated password")
                + f" and {len(config.id_tags)} id tag(s)"
            )
        self.stdout.write(
            f"Simulating {count} OCPP {config.version} charger(s) against {config.url}"
            + (f" for {options['duration']:g} s" if options["duration"] else " (Ctrl-C stops)")
        )
        started = time.monotonic()
        stats = asyncio.run(self._run(Fleet(config), options))
        elapsed = time.monotonic() - started
        self._summary(stats, elapsed, options["json"])
        if options["strict"] and stats.errors:
            raise CommandError(f"{stats.errors} error(s); last: {stats.last_error}", returncode=1)

    async def _run(self, fleet: Fleet, options: dict[str, Any]) -> Stats:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not in the main thread, or not on this platform: Ctrl-C then interrupts hard.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, fleet.request_stop)
        tty = self.stdout.isatty()
        every = 0.5 if tty else options["progress_interval"]
        shown = {"at": time.monotonic(), "width": 0}

        def progress(stats: Stats) -> None:
            now = time.monotonic()
            if now - shown["at"] < every:
                return
            shown["at"] = now
            line = stats.line()
            if tty:
                padding = " " * max(0, shown["width"] - len(line))
                self.stdout.write("\r" + line + padding, ending="")
                self.stdout.flush()
                shown["width"] = len(line)
            else:
                self.stdout.write(line)

        stats = await fleet.run(
            options["duration"] or None, on_tick=progress, tick_s=min(every, 1.0)
        )
        if tty and shown["width"]:
            self.stdout.write("")
        return stats

    def _summary(self, stats: Stats, elapsed: float, as_json: bool) -> None:
        self.stdout.write(f"Summary after {elapsed:.1f} s:")
        values = stats.as_dict()
        for key, label in SUMMARY_ROWS:
            self.stdout.write(f"  {label:<18} {values[key]}")
        if stats.last_error:
            self.stdout.write(f"  last error         {stats.last_error}")
        if as_json:
            self.stdout.write(json.dumps(values))
