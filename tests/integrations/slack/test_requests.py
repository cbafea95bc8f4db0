"""Signed requests: Slack's signature checked, forged, stale and replayed requests refused."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from apps.integrations.slack.models import SlackWorkspace
from apps.security.models import SecurityEvent
from tests.integrations.slack.slack_api import TEAM_ID, signed_headers, slash_body

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def post_command(client, body: bytes, **headers):
    return client.post(reverse("slack:commands"), data=body, content_type=FORM, **headers)


def post_event(client, payload: dict, **headers):
    body = json.dumps(payload).encode()
    return client.post(
        reverse("slack:events"),
        data=body,
        content_type="application/json",
        **(headers or signed_headers(body)),
    )


def refusals() -> list[str]:
    return list(SecurityEvent.objects.order_by("pk").values_list("event_type", flat=True))


def test_it_answers_a_slash_command_slack_signed(client, slack):
    body = slash_body("help")

    response = post_command(client, body, **signed_headers(body))

    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "/constellation status [station]" in response.json()["text"]
    assert refusals() == []


def test_it_refuses_a_forged_signature_and_records_it(client, slack):
    body = slash_body("reset CP-1 hard")

    response = post_command(client, body, **signed_headers(body, secret="not-the-secret"))

    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert refusals() == ["SlackRequestForged"]
    assert SecurityEvent.objects.get().source == SecurityEvent.Source.CSMS


def test_it_refuses_a_body_changed_after_signing(client, slack):
    headers = signed_headers(slash_body("status"))

    response = post_command(client, slash_body("reset CP-1 hard"), **headers)

    assert response.status_code == 401
    assert refusals() == ["SlackRequestForged"]


def test_it_refuses_a_request_without_signature(client, slack):
    response = post_command(client, slash_body("status"))

    assert response.status_code == 401
    assert refusals() == ["SlackRequestForged"]


def test_it_refuses_a_request_signed_outside_the_time_window(client, slack):
    body = slash_body("status")
    stale = int(time.time()) - 301

    response = post_command(client, body, **signed_headers(body, timestamp=stale))

    assert response.status_code == 401
    assert refusals() == ["SlackRequestStale"]


def test_it_refuses_the_same_signed_request_sent_again_within_the_window(client, slack):
    body = slash_body("help")
    headers = signed_headers(body)

    first = post_command(client, body, **headers)
    again = post_command(client, body, **headers)

    assert first.status_code == 200
    assert again.status_code == 401
    assert "already received" in again.json()["error"]
    assert refusals() == ["SlackRequestReplayed"]


def test_it_answers_the_events_url_check(client, slack):
    response = post_event(
        client,
        {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        },
    )

    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_a_forged_events_url_check_gets_no_challenge(client, slack):
    payload = {"challenge": "abc", "type": "url_verification"}
    body = json.dumps(payload).encode()

    response = post_event(client, payload, **signed_headers(body, secret="guess"))

    assert response.status_code == 401
    assert "abc" not in response.content.decode()


def test_an_uninstall_event_deactivates_the_workspace_and_forgets_its_token(client, workspace):
    response = post_event(
        client,
        {
            "token": "XXYYZZ",
            "team_id": TEAM_ID,
            "api_app_id": "A0APP0001",
            "event": {"type": "app_uninstalled", "event_ts": "1700000000.000100"},
            "type": "event_callback",
            "event_id": "Ev0001",
            "event_time": 1700000000,
        },
    )

    assert response.status_code == 200
    workspace.refresh_from_db()
    assert not workspace.active
    assert workspace.token() == ""


def test_an_event_body_that_is_not_json_is_a_clear_400(client, slack):
    body = b"{not json"

    response = client.post(
        reverse("slack:events"), data=body, content_type="application/json", **signed_headers(body)
    )

    assert response.status_code == 400
    assert response.json() == {"error": "the body is not JSON"}


def test_the_endpoints_do_not_exist_while_slack_is_off(client, slack, settings):
    settings.SLACK_ENABLED = False
    body = slash_body("help")

    assert post_command(client, body, **signed_headers(body)).status_code == 404
    assert SlackWorkspace.objects.count() == 0
