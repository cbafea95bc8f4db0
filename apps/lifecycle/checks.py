"""System checks of the lifecycle settings (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from apps.lifecycle.channels import CHANNELS


def check_update_channel(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    channel = getattr(settings, "UPDATE_CHANNEL", "fixed")
    if channel in CHANNELS:
        return []
    return [
        Error(
            f"UPDATE_CHANNEL {channel!r} is not an update channel.",
            hint=f"Set UPDATE_CHANNEL to one of: {', '.join(CHANNELS)} (docs/lifecycle.md).",
            id="lifecycle.E001",
        )
    ]
