"""How the control center writes times: one format, local time, seconds or milliseconds."""

from __future__ import annotations

from datetime import datetime

from django.utils import dateformat, timezone

# The station page's format (its command history, transactions and configuration tables).
SECONDS_FORMAT = "Y-m-d H:i:s"


def time_seconds(value: datetime | None) -> str:
    """Return `value` in the active time zone to the second ("-" when unknown)."""
    if value is None:
        return "-"
    return dateformat.format(timezone.localtime(value), SECONDS_FORMAT)


def time_milliseconds(value: datetime | None) -> str:
    """Return `value` in the active time zone to the millisecond ("-" when unknown)."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return f"{dateformat.format(local, SECONDS_FORMAT)}.{local.microsecond // 1000:03d}"
