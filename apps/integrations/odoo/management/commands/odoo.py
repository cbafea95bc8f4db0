"""Odoo from the command line: test the connection, sync users, look up products."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.odoo.client import OdooError
from apps.integrations.odoo.models import OdooInstance
from apps.integrations.odoo.selectors import products_search
from apps.integrations.odoo.services import instance_connection_test, users_sync


class Command(BaseCommand):
    help = "Test an Odoo instance, sync its users to operator accounts, find its products."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--instance", default="", help="the instance's name (default: the only enabled one)"
        )
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("test", help="reach the server and check the credentials")
        sync = sub.add_parser("sync-users", help="bring operator accounts in step with Odoo")
        sync.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        products = sub.add_parser("products", help="find saleable products by name or reference")
        products.add_argument("query")

    def handle(self, *args: Any, **options: Any) -> None:
        instance = self._instance(options["instance"])
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(instance, options)
        except OdooError as exc:
            raise CommandError(str(exc)) from exc

    def _instance(self, name: str) -> OdooInstance:
        rows = OdooInstance.objects.filter(enabled=True)
        if name:
            rows = rows.filter(name=name)
        found = list(rows[:2])
        if not found:
            raise CommandError(f"No enabled Odoo instance{f' named {name!r}' if name else ''}.")
        if len(found) > 1:
            raise CommandError("Several Odoo instances are enabled: name one with --instance.")
        return found[0]

    def _test(self, instance: OdooInstance, options: dict[str, Any]) -> None:
        report = instance_connection_test(instance=instance)
        self.stdout.write(
            f"{instance}: Odoo {report.server_version}, signed in as user id {report.uid}"
        )

    def _sync_users(self, instance: OdooInstance, options: dict[str, Any]) -> None:
        plan = users_sync(instance=instance, dry_run=options["dry_run"])
        for label, changes in (
            ("create", plan.create),
            ("update", plan.update),
            ("deactivate", plan.deactivate),
            ("skip", plan.skipped),
        ):
            for change in changes:
                detail = "; ".join(change.changes) or change.reason
                self.stdout.write(f"{label:10} {change.login}  {detail}")
        for group in plan.unresolved_groups:
            self.stderr.write(f"Odoo group not found: {group}")
        prefix = "dry run, nothing changed: " if options["dry_run"] else ""
        self.stdout.write(f"{instance}: {prefix}{plan.summary()}")

    def _products(self, instance: OdooInstance, options: dict[str, Any]) -> None:
        for product in products_search(instance=instance, query=options["query"]):
            taxes = product.taxes_text or "-"
            self.stdout.write(
                f"{product.id:>6}  {product.code or '-':12} {product.price:>10}  {taxes:10} "
                f"{product.name}"
            )
