"""This node's update channel and upgrades, for upgrade.sh, configure.sh and operators."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.lifecycle import backup, services
from apps.lifecycle.models import Channel, Upgrade
from apps.lifecycle.repository import RepositoryError
from apps.lifecycle.selectors import channel_current


def cmd_value(value: str) -> str:
    """Make `value` safe for upgrade.bat's `for /f ... do set "%%A=%%B"`.

    cmd.exe reads the file in the console's code page and a double quote would end the quoted
    `set`, so: one line, ASCII only, single quotes for double ones.
    """
    value = " ".join(value.replace("\u2192", "->").split()).replace('"', "'")
    return value.encode("ascii", "replace").decode("ascii")


class Command(BaseCommand):
    help = (
        "Show or set the update channel; plan, record, back up and restore for upgrade.sh; "
        "start a delegated upgrade (docs/lifecycle.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        channel = sub.add_parser("channel", help="print the update channel, or set it")
        channel.add_argument("--set", choices=Channel.values, dest="new_channel")

        plan = sub.add_parser("plan", help="print the target of the channel (after git fetch)")
        plan.add_argument("--channel", choices=Channel.values)
        plan.add_argument("--to", default="", help="a tag, branch or commit instead")
        plan.add_argument("--remote", default="origin")
        plan.add_argument("--branch", default="main")
        output = plan.add_mutually_exclusive_group()
        output.add_argument("--shell", action="store_true", help="print PLAN_*= lines for bash")
        output.add_argument(
            "--cmd",
            action="store_true",
            help="print PLAN_*= lines for cmd.exe (upgrade.bat): unquoted, ASCII, no double quote",
        )

        begin = sub.add_parser("begin", help="record an upgrade attempt; print its id")
        finish = sub.add_parser("finish", help="record how an attempt ended")
        for each in (begin, finish):
            each.add_argument("--channel", default="")
            each.add_argument("--by", default="")
            each.add_argument("--from-version", default="")
            each.add_argument("--from-commit", default="")
            each.add_argument("--to-ref", default="")
            each.add_argument("--to-version", default="")
            each.add_argument("--to-commit", default="")
        finish.add_argument("--id", type=int, default=None)
        finish.add_argument("--result", required=True, choices=Upgrade.Result.values)
        finish.add_argument("--detail", default="")
        finish.add_argument("--log-file", type=Path)

        for name, text in (("backup", "copy the database into FILE"), ("restore", "restore FILE")):
            each = sub.add_parser(name, help=text)
            each.add_argument("file", type=Path)
        sub.add_parser("backup-suffix", help="print the backup file's suffix for this database")

        launch = sub.add_parser("launch", help="start upgrade.sh delegated and return")
        launch.add_argument("--to", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "_" + action.replace("-", "_"))(options)
        except (RepositoryError, backup.BackupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _channel(self, options: dict[str, Any]) -> None:
        if options["new_channel"]:
            services.channel_set(channel=options["new_channel"], by="manage.py lifecycle")
        self.stdout.write(channel_current())

    def _plan(self, options: dict[str, Any]) -> None:
        channel = options["channel"] or channel_current()
        plan = services.upgrade_plan(
            channel=channel, to=options["to"], remote=options["remote"], branch=options["branch"]
        )
        values = {
            "CHANNEL": plan.channel,
            "AVAILABLE": "1" if plan.available else "0",
            "REASON": plan.reason,
            "CURRENT_COMMIT": plan.current_commit,
            "CURRENT_VERSION": plan.current_version,
            "TARGET_REF": plan.target.ref if plan.target else "",
            "TARGET_COMMIT": plan.target.commit if plan.target else "",
            "TARGET_VERSION": plan.target_version,
        }
        if options["shell"]:
            for key, value in values.items():
                self.stdout.write(f"PLAN_{key}={shlex.quote(value)}")
        elif options["cmd"]:
            for key, value in values.items():
                self.stdout.write(f"PLAN_{key}={cmd_value(value)}")
        else:
            self.stdout.write(plan.reason)

    def _begun(self, options: dict[str, Any]) -> dict[str, str]:
        return {
            "channel": options["channel"] or channel_current(),
            "started_by": options["by"],
            "from_version": options["from_version"],
            "from_commit": options["from_commit"],
            "to_ref": options["to_ref"],
            "to_version": options["to_version"],
            "to_commit": options["to_commit"],
        }

    def _begin(self, options: dict[str, Any]) -> None:
        self.stdout.write(str(services.upgrade_begin(**self._begun(options)).pk))

    def _finish(self, options: dict[str, Any]) -> None:
        log = ""
        if options["log_file"]:
            try:
                log = options["log_file"].read_text(errors="replace")
            except OSError as exc:
                log = f"(the log {options['log_file']} could not be read: {exc})"
        upgrade = services.upgrade_finish(
            upgrade_id=options["id"],
            result=options["result"],
            detail=options["detail"],
            log=log,
            **self._begun(options),
        )
        self.stdout.write(f"upgrade {upgrade.pk}: {upgrade.result}")

    def _backup(self, options: dict[str, Any]) -> None:
        self.stdout.write(str(backup.database_backup(path=options["file"])))

    def _restore(self, options: dict[str, Any]) -> None:
        backup.database_restore(path=options["file"])
        self.stdout.write(f"restored {options['file']}")

    def _backup_suffix(self, options: dict[str, Any]) -> None:
        self.stdout.write(backup.backup_suffix())

    def _launch(self, options: dict[str, Any]) -> None:
        args = ["--to", options["to"]] if options["to"] else []
        launched = services.upgrade_launch(started_by="manage.py", args=args)
        pid = f", pid {launched.pid}" if launched.pid else ""
        self.stdout.write(f"started ({launched.how}{pid}); log: {launched.log}")
