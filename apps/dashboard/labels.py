"""Words the control center shows for OCPP values, translated."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Connector statuses of OCPP 1.6 and 2.x, each with the word shown for it.
CONNECTOR_STATUSES = {
    "Available": gettext_lazy("Available"),
    "Preparing": gettext_lazy("Preparing"),
    "Charging": gettext_lazy("Charging"),
    "SuspendedEVSE": gettext_lazy("Suspended by charger"),
    "SuspendedEV": gettext_lazy("Suspended by vehicle"),
    "Finishing": gettext_lazy("Finishing"),
    "Reserved": gettext_lazy("Reserved"),
    "Unavailable": gettext_lazy("Unavailable"),
    "Faulted": gettext_lazy("Faulted"),
    "Occupied": gettext_lazy("Occupied"),
}


def status_labels() -> dict[str, str]:
    """Return the translated word of each connector status, in the active language."""
    return {status: str(label) for status, label in CONNECTOR_STATUSES.items()}


def live_labels() -> dict[str, str]:
    """Return the words the live script writes, in the active language."""
    return {
        "online": _("Online"),
        "offline": _("Offline"),
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost, reconnecting…"),
        "unknown": _("Unknown"),
        "statuses": status_labels(),
    }


def status_label(status: str) -> str:
    """Return the word shown for a connector status (translated when known)."""
    label = CONNECTOR_STATUSES.get(status)
    return str(label) if label is not None else (status or "-")
