"""Signals of the command path, for apps above it that keep their own records.

`command_limit_reached` is sent when send_command refuses a command because too many are
outstanding for the station (OCPP_MAX_OUTSTANDING_COMMANDS). It is sent synchronously, inside
the caller's database transaction, with `station`, `action` and `outstanding`; the security
app records it as a CommandLimitReached security event.
"""

from __future__ import annotations

from django.dispatch import Signal

command_limit_reached = Signal()
