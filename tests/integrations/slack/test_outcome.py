"""The charger's answer to a slash command's command follows through Slack's response_url."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import command_complete
from apps.integrations.slack import client
from apps.integrations.slack.client import SlackError
from tests.integrations.slack.conftest import COMMAND_PERMS
from tests.integrations.slack.slack_api import signed_headers, slash_body


def say(client, text: str, response_url: str) -> str:
    body = slash_body(text, response_url=response_url)
    response = client.post(
        reverse("slack:commands"),
        data=body,
        content_type="application/x-www-form-urlencoded",
        **signed_headers(body),
    )
    assert response.status_code == 200
    return response.json()["text"]


@pytest.mark.django_db(transaction=True)
def test_the_chargers_answer_is_told_after_the_immediate_reply(client, slack, linked, settings):
    settings.CELERY_QUEUE = "off"
    linked(*COMMAND_PERMS)
    ChargingStation.objects.create(charger_id="CP-OUT", is_connected=True)
    response_url = f"{slack.base}/commands/T0CONSTEL/1/xyz"

    answer = say(client, "reset CP-OUT hard", response_url)
    command = ChargerCommand.objects.get()
    assert command.status == CommandStatus.PENDING
    assert answer.startswith("Reset sent to CP-OUT")
    command_complete(command=command, response={"status": "Accepted"})

    responses = slack.wait_responses(1)
    assert responses == [
        {
            "path": "/commands/T0CONSTEL/1/xyz",
            "text": "Reset to CP-OUT: Accepted.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]


def test_a_response_url_that_is_not_slacks_is_never_called(slack, settings):
    settings.SLACK_RESPONSE_URL_PREFIX = "https://hooks.slack.com/"

    with pytest.raises(SlackError) as refused:
        client.respond(url="http://169.254.169.254/latest/meta-data", text="hello")

    assert refused.value.code == "response_url_refused"
    assert client.response_url_allowed("https://hooks.slack.com/commands/T0/1/abc")
    assert not client.response_url_allowed("https://hooks.slack.com.evil.example/x")
    assert slack.responses == []
