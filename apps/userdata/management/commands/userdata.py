"""`manage.py userdata export|import`: a user's data as a bundle, out of and into this node."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import Any

from auditlog.context import set_actor
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.userdata.bundle import BundleError, bundle_decode
from apps.userdata.selectors import bundle_export
from apps.userdata.services import ImportResult, userdata_import


class Command(BaseCommand):
    help = "Export a user's data as a JSON bundle, or import a bundle (docs/userdata.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write the user's bundle to stdout or --output.")
        export.add_argument("--user", required=True, help="Username: exports what they may.")
        export.add_argument("--output", help="File to write instead of stdout.")
        imp = sub.add_parser("import", help="Import a bundle file ('-' reads stdin).")
        imp.add_argument("file")
        imp.add_argument("--user", required=True, help="Username: imports as them.")
        imp.add_argument("--dry-run", action="store_true", help="Show the diff, write nothing.")
        imp.add_argument(
            "--overwrite",
            action="store_true",
            help="Replace objects that exist here with other values (else: conflict).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["user"])
        if options["action"] == "export":
            text = json.dumps(bundle_export(user=user), indent=2, ensure_ascii=False) + "\n"
            if options["output"]:
                with open(options["output"], "w", encoding="utf-8") as out:
                    out.write(text)
            else:
                self.stdout.write(text, ending="")
            return
        data = self._read(options["file"])
        try:
            with set_actor(user):
                result = userdata_import(
                    user=user,
                    data=data,
                    overwrite=options["overwrite"],
                    dry_run=options["dry_run"],
                )
        except BundleError as error:
            raise CommandError("\n".join(error.errors)) from error
        self._report(result)
        if result.blocked:
            raise CommandError("Nothing was imported: resolve the conflicts and errors above.")
        if result.applied:
            self.stdout.write(self.style.SUCCESS("Imported."))
        else:
            self.stdout.write("Dry run: nothing was written.")

    def _user(self, username: str) -> Any:
        try:
            return get_user_model()._default_manager.get(username=username)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"No user {username!r}.") from error

    def _read(self, path: str) -> Any:
        try:
            # One byte over the limit is enough to refuse the file without reading all of it.
            size = settings.USERDATA_MAX_BUNDLE_BYTES + 1
            if path == "-":
                return bundle_decode(sys.stdin.buffer.read(size))
            with open(path, "rb") as source:
                return bundle_decode(source.read(size))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        except BundleError as error:
            raise CommandError("\n".join(error.errors)) from error

    def _report(self, result: ImportResult) -> None:
        for item in result.items:
            line = f"{item.action:9} {item.model} {item.label}"
            if item.message:
                line += f": {item.message}"
            self.stdout.write(line)
            for name, (ours, theirs) in item.changes.items():
                self.stdout.write(f"          {name}: {ours!r} -> {theirs!r}")
        counts = ", ".join(f"{action} {n}" for action, n in sorted(result.counts.items()))
        self.stdout.write(f"Total: {counts or 'no objects'}.")
