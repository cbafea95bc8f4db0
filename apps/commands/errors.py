"""The error of the command path, apart so the registry and the services can both raise it."""

from __future__ import annotations


class CommandError(ValueError):
    """The command cannot be sent as asked (unknown action, payload breaks the schema)."""


class StationNotVisible(CommandError):
    """The user who asks may not see the station: none of their sites holds it."""
