"""The beat schedule of each update channel, in the node's local time (settings.TIME_ZONE)."""

from __future__ import annotations

from apps.lifecycle.channels import FIXED, LATEST, STABLE, UNSTABLE

CHECK_TASK = "apps.lifecycle.tasks.upgrade_check"
CHECK_TASK_NAME = "lifecycle: upgrade check"

# Crontab fields (minute, hour, day_of_week, day_of_month, month_of_year). The releases'
# checks run at 04:30 so the upgrade is done before 05:00 local time; day_of_week 4 is
# Thursday (cron counts from 0 = Sunday).
CRONTABS: dict[str, dict[str, str]] = {
    STABLE: {
        "minute": "30",
        "hour": "4",
        "day_of_week": "4",
        "day_of_month": "*",
        "month_of_year": "*",
    },
    LATEST: {
        "minute": "30",
        "hour": "4",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    },
    UNSTABLE: {
        "minute": "*/15",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    },
}


def crontab_for(channel: str) -> dict[str, str] | None:
    """Return the crontab fields of `channel`'s check, or None for fixed (no check)."""
    if channel == FIXED:
        return None
    return CRONTABS[channel]
