"""OCPP time handling: stored in UTC, sent as ISO 8601 with `Z` and milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_ocpp_datetime(value: datetime) -> str:
    """Return `value` as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_ocpp_datetime(text: str) -> datetime:
    """Parse an OCPP timestamp; one without an offset is taken as UTC."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
