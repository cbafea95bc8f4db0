"""Installing the app to a workspace through Slack's OAuth v2, against the local Slack."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.integrations.slack.models import SlackOAuthState, SlackWorkspace
from tests.integrations.slack.slack_api import (
    BOT_USER_ID,
    CLIENT_SECRET,
    TEAM_ID,
    TEAM_NAME,
    SlackState,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def installer(client, make_user):
    user = make_user("slack.add_slackworkspace", "slack.view_slackworkspace")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return user


def authorize(client, slack: SlackState) -> str:
    """Start the install here, "Allow" it at Slack; return the callback URL Slack sends to."""
    start = client.get(reverse("slack:install"))
    assert start.status_code == 302
    assert start["Location"].startswith(f"{slack.base}/oauth/v2/authorize?")
    at_slack = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_slack.status_code == 302
    return at_slack.headers["Location"]


def follow(client, url: str):
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_an_operator_installs_the_app_and_the_bot_token_is_kept_encrypted(client, slack, installer):
    callback = authorize(client, slack)
    assert urlsplit(callback).path == reverse("slack:oauth-callback")

    response = follow(client, callback)

    assert response.status_code == 302
    assert messages_of(response) == [f"Constellation is installed in {TEAM_NAME}."]
    workspace = SlackWorkspace.objects.get()
    assert (workspace.team_id, workspace.bot_user_id, workspace.installed_by) == (
        TEAM_ID,
        BOT_USER_ID,
        installer,
    )
    assert workspace.scope == "commands,chat:write"
    token = workspace.token()
    assert token in slack.tokens
    assert token not in workspace.bot_token_encrypted
    assert slack.calls == ["oauth.v2.access", "auth.test"]
    assert SlackOAuthState.objects.count() == 0  # the state was used up


def test_no_log_line_holds_the_bot_token_even_at_debug(client, slack, installer, caplog):
    caplog.set_level(logging.DEBUG)

    follow(client, authorize(client, slack))

    token = SlackWorkspace.objects.get().token()
    assert "oauth.v2.access" in slack.calls
    assert token not in caplog.text
    assert CLIENT_SECRET not in caplog.text


def test_the_same_callback_twice_is_refused(client, slack, installer):
    callback = authorize(client, slack)
    follow(client, callback)

    again = follow(client, callback)

    assert messages_of(again)[-1] == "This install link is unknown or was used already."
    assert slack.calls == ["oauth.v2.access", "auth.test"]  # Slack was not asked again


def test_an_expired_state_is_refused(client, slack, installer):
    callback = authorize(client, slack)
    state = SlackOAuthState.objects.get()
    state.created_at -= timedelta(minutes=11)
    state.save(update_fields=["created_at"])

    response = follow(client, callback)

    assert messages_of(response) == ["This install link expired; start the install again."]
    assert SlackWorkspace.objects.count() == 0
    assert "oauth.v2.access" not in slack.calls


def test_a_state_started_by_someone_else_is_refused(client, slack, installer, make_user):
    callback = authorize(client, slack)
    other = make_user("slack.add_slackworkspace")
    other.is_staff = True
    other.save(update_fields=["is_staff"])
    client.force_login(other)

    response = follow(client, callback)

    assert messages_of(response) == ["This install link is unknown or was used already."]
    assert SlackWorkspace.objects.count() == 0


def test_a_code_slack_does_not_know_is_refused_with_slacks_reason(client, slack, installer):
    client.get(reverse("slack:install"))
    state = SlackOAuthState.objects.get().state

    response = client.get(reverse("slack:oauth-callback"), {"code": "made-up", "state": state})

    assert messages_of(response) == ["Slack refused the install: invalid_code."]
    assert SlackWorkspace.objects.count() == 0


def test_a_cancelled_install_says_so(client, slack, installer):
    response = client.get(reverse("slack:oauth-callback"), {"error": "access_denied"})

    assert messages_of(response) == ["The install was not finished in Slack: access_denied."]


def test_installing_needs_the_permission(client, slack, make_user):
    user = make_user()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)

    assert client.get(reverse("slack:install")).status_code == 403
    assert client.get(reverse("slack:oauth-callback"), {"code": "x"}).status_code == 403
    assert SlackOAuthState.objects.count() == 0


def test_the_admin_never_shows_the_token(client, workspace, operator):
    client.force_login(operator)

    page = client.get(reverse("admin:slack_slackworkspace_change", args=[workspace.pk]))

    assert page.status_code == 200
    assert workspace.token() not in page.content.decode()
    assert workspace.bot_token_encrypted not in page.content.decode()


def test_the_admin_checks_the_token_with_slack(client, workspace, operator, slack):
    client.force_login(operator)

    response = client.post(
        reverse("admin:slack_slackworkspace_changelist"),
        {"action": "check_token", "_selected_action": [workspace.pk]},
        follow=True,
    )

    assert f"{workspace}: the token works (bot {BOT_USER_ID})." in messages_of(response)
    assert slack.calls == ["auth.test"]
