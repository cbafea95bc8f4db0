"""Names the message log shows for OCPP-J message types, translated."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.protocol import frames

# OCPP-J's message type numbers (2.1 adds CALLRESULTERROR and SEND) and their names.
MESSAGE_TYPES = {
    frames.CALL: _("CALL"),
    frames.CALLRESULT: _("CALLRESULT"),
    frames.CALLERROR: _("CALLERROR"),
    frames.CALLRESULTERROR: _("CALLRESULTERROR"),
    frames.SEND: _("SEND"),
}


def message_type_label(message_type: int | None) -> str:
    """Return the name of a message type ("-" for a frame that could not be read)."""
    if message_type is None:
        return "-"
    label = MESSAGE_TYPES.get(message_type)
    return str(label) if label is not None else str(message_type)
