"""Configuration errors of the Slack bot are system checks."""

from __future__ import annotations

from apps.integrations.slack.checks import check_slack_settings


def test_nothing_is_checked_while_slack_is_off(settings):
    settings.SLACK_ENABLED = False
    settings.SLACK_SIGNING_SECRET = ""

    assert check_slack_settings() == []


def test_missing_credentials_are_errors_once_enabled(settings):
    settings.SLACK_ENABLED = True
    settings.SLACK_CLIENT_ID = "123.456"
    settings.SLACK_CLIENT_SECRET = ""
    settings.SLACK_SIGNING_SECRET = ""

    assert [error.id for error in check_slack_settings()] == ["slack.E002", "slack.E003"]


def test_a_window_of_no_time_is_an_error(settings):
    settings.SLACK_ENABLED = True
    settings.SLACK_CLIENT_ID = settings.SLACK_CLIENT_SECRET = settings.SLACK_SIGNING_SECRET = "x"
    settings.SLACK_REQUEST_TOLERANCE = 0

    assert [error.id for error in check_slack_settings()] == ["slack.E004"]
