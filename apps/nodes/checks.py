"""Configuration checks of this node's settings (run by manage.py and start.sh)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from apps.nodes import sigils
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


def check_sigils(**_kwargs: Any) -> list[CheckMessage]:
    """The sigils' allow-lists name real, non-secret things; texts in use resolve fully."""
    found: list[CheckMessage] = []
    for setting in ("SIGILS_ENV_ALLOW", "SIGILS_CONF_ALLOW"):
        for name in getattr(settings, setting, []):
            if not sigils.FIELD_NAME.match(name) or name in sigils.NEVER:
                found.append(
                    Error(
                        f"{setting} lists {name!r}, which a sigil cannot name",
                        hint="Letters, digits and _ only; SECRET_KEY is never allowed "
                        "(docs/sigils.md).",
                        id="sigils.E001",
                    )
                )
            elif sigils.is_secret_name(name):
                found.append(
                    Warning(
                        f"{setting} lists {name!r}, whose name says it is a secret",
                        hint="It is left unresolved on pages, receipts and the preview "
                        "(docs/sigils.md).",
                        id="sigils.W002",
                    )
                )
    for name in getattr(settings, "SIGILS_CONF_ALLOW", []):
        if sigils.FIELD_NAME.match(name) and not isinstance(
            getattr(settings, name, None), sigils.PLAIN
        ):
            found.append(
                Warning(
                    f"SIGILS_CONF_ALLOW lists {name!r}, which is not a setting with a plain value",
                    hint="[CONF.NAME] prints only text, numbers and yes/no settings; this one "
                    "is left as typed.",
                    id="sigils.W003",
                )
            )
    for text in sigils.sigil_texts():
        try:
            problems = sigils.sigils_resolve(text.get()).problems
        except Exception:  # e.g. no database yet: the admin preview shows it
            continue
        for part in problems:
            found.append(
                Warning(
                    f"{text.name} has the sigil {part.sigil} left as typed: {part.message}",
                    hint="Correct it, or see the roots and fields allowed in the admin's "
                    "Sigil preview (docs/sigils.md).",
                    id="sigils.W001",
                )
            )
    return found
