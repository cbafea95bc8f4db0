"""Configuration checks of this node's settings (run by manage.py and start.sh)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from apps.nodes.models import Role

READERS = ("auto", "serial", "mfrc522")


def check_node_settings(**_kwargs: Any) -> list[Error]:
    """NODE_ROLE and RFID_READER must be one of their words: a typo is not a silent default."""
    errors: list[Error] = []
    role = getattr(settings, "NODE_ROLE", Role.TERMINAL)
    if role not in Role.values:
        errors.append(
            Error(
                f"NODE_ROLE is {role!r}",
                hint=f"Use one of: {', '.join(Role.values)} (docs/nodes.md).",
                id="nodes.E001",
            )
        )
    reader = getattr(settings, "RFID_READER", "auto")
    if reader not in READERS:
        errors.append(
            Error(
                f"RFID_READER is {reader!r}",
                hint=f"Use one of: {', '.join(READERS)} (docs/nodes.md).",
                id="nodes.E002",
            )
        )
    return errors
