"""System checks of the user data settings (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    limit = getattr(settings, "USERDATA_MAX_BUNDLE_BYTES", None)
    if not isinstance(limit, int) or limit <= 0:
        return [
            Error(
                f"USERDATA_MAX_BUNDLE_BYTES must be a positive number of bytes, not {limit!r}.",
                hint="Set it in the environment, e.g. USERDATA_MAX_BUNDLE_BYTES=20971520.",
                id="userdata.E001",
            )
        ]
    return []
