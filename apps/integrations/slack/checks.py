"""Configuration errors of the Slack bot, as Django system checks (slack.E001…)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error


def check_slack_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.SLACK_ENABLED:
        return []
    errors = []
    for setting, check_id in (
        ("SLACK_CLIENT_ID", "slack.E001"),
        ("SLACK_CLIENT_SECRET", "slack.E002"),
        ("SLACK_SIGNING_SECRET", "slack.E003"),
    ):
        if not getattr(settings, setting, ""):
            errors.append(
                Error(
                    f"SLACK_ENABLED is on but {setting} is empty.",
                    hint="Copy it from api.slack.com/apps → your app → Basic Information "
                    "(docs/slack.md).",
                    id=check_id,
                )
            )
    if settings.SLACK_REQUEST_TOLERANCE <= 0 or settings.SLACK_SEND_ATTEMPTS < 1:
        errors.append(
            Error(
                "SLACK_REQUEST_TOLERANCE must be positive and SLACK_SEND_ATTEMPTS at least 1.",
                id="slack.E004",
            )
        )
    return errors
