"""Show or change this node: its role and its features' switches (docs/nodes.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.nodes import features
from apps.nodes.models import Mode, Role
from apps.nodes.services import node_refresh, set_role, set_switch, this_node


class Command(BaseCommand):
    help = "Show this node, its role and each feature's state; switch features or the role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the node as JSON")
        parser.add_argument("--role", choices=Role.values, help="give this node another role")
        parser.add_argument(
            "--feature",
            action="append",
            default=[],
            metavar="SLUG=MODE",
            help=f"switch a feature on, off or auto (repeatable); slugs: "
            f"{', '.join(features.CATALOGUE)}",
        )
        parser.add_argument(
            "--active",
            metavar="SLUG",
            help="print nothing; exit 0 when the feature is active on this node, 1 when not "
            "(2: unknown feature)",
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="record this node's hostname, addresses, version and last sight now",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["active"]:
            slug = options["active"]
            if slug not in features.CATALOGUE:
                # 2, not 1: a script must not read a typo as "not active".
                raise CommandError(
                    f"unknown feature {slug!r}; known: {', '.join(features.CATALOGUE)}",
                    returncode=2,
                )
            raise SystemExit(0 if features.feature_active(slug) else 1)
        # Check every switch before changing anything: all of them or none.
        wanted: list[tuple[str, str]] = []
        for item in options["feature"]:
            slug, sep, mode = item.partition("=")
            if not sep or mode not in Mode.values:
                raise CommandError(f"--feature wants SLUG=on|off|auto, not {item!r}")
            if slug not in features.CATALOGUE:
                raise CommandError(
                    f"unknown feature {slug!r}; known: {', '.join(features.CATALOGUE)}"
                )
            wanted.append((slug, mode))
        if options["role"]:
            set_role(options["role"])
        for slug, mode in wanted:
            set_switch(slug, mode, by="manage.py node")
        node = node_refresh() if options["refresh"] else this_node()
        states = features.feature_states()
        if options["json"]:
            data = {
                "name": node.name,
                "role": node.role,
                "hostname": node.hostname,
                "addresses": node.addresses,
                "port": node.port,
                "version": node.version,
                "installed_at": node.installed_at.isoformat() if node.installed_at else None,
                "last_seen": node.last_seen.isoformat() if node.last_seen else None,
                "features": [state.as_dict() for state in states.values()],
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(f"{node.name} — {node.get_role_display()} ({node.hostname})")
        addresses = ", ".join(node.addresses) or "-"
        self.stdout.write(f"version {node.version or '-'}, addresses {addresses}")
        for state in states.values():
            self.stdout.write(f"  {state.slug:<16} {state.mode:<5} {state.describe()}")
