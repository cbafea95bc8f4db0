from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from apps.core.timeutil import utcnow
from apps.integrations.slack.models import SlackIdentity, SlackWorkspace
from tests.integrations.slack.slack_api import (
    BOT_USER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
    TEAM_NAME,
    SlackServer,
    SlackState,
)

BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
COMMAND_PERMS = (
    "chargers.view_chargingstation",
    "chargers.change_chargingstation",
    "commands.add_chargercommand",
)


@pytest.fixture(scope="session")
def slack_server() -> Iterator[SlackState]:
    with SlackServer() as state:
        yield state


@pytest.fixture
def slack(slack_server: SlackState, settings) -> SlackState:
    """The fake Slack, and this node configured to use it."""
    slack_server.reset()
    settings.SLACK_ENABLED = True
    settings.SLACK_API_URL = f"{slack_server.base}/api/"
    settings.SLACK_AUTHORIZE_URL = f"{slack_server.base}/oauth/v2/authorize"
    settings.SLACK_CLIENT_ID = CLIENT_ID
    settings.SLACK_CLIENT_SECRET = CLIENT_SECRET
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_SEND_ATTEMPTS = 3
    settings.SLACK_RESPONSE_URL_PREFIX = f"{slack_server.base}/commands/"
    settings.LANGUAGE_CODE = "en"
    return slack_server


@pytest.fixture
def workspace(db, slack: SlackState) -> SlackWorkspace:
    """The workspace as an install leaves it; the fake Slack knows its bot token."""
    slack.tokens.add(BOT_TOKEN)
    workspace = SlackWorkspace(
        team_id=TEAM_ID, team_name=TEAM_NAME, bot_user_id=BOT_USER_ID, installed_at=utcnow()
    )
    workspace.set_token(BOT_TOKEN)
    workspace.save()
    return workspace


@pytest.fixture
def linked(make_user, workspace) -> Callable:
    """Return an operator holding `perms`, linked to the Slack user `slack_user`."""

    def make(*perms: str, slack_user: str = "U0OPER001"):
        user = make_user(*perms)
        SlackIdentity.objects.create(team_id=TEAM_ID, slack_user_id=slack_user, user=user)
        return user

    return make
