"""Slack's Web API through slack_sdk's WebClient, at SLACK_API_URL (tests: a local stand-in).

Only three methods are called: `oauth.v2.access` (install), `auth.test` (is the token good)
and `chat.postMessage` (notifications); besides, a slash command's `response_url` gets the
charger's answer to the command (slack_sdk's WebhookClient), if it is Slack's
(SLACK_RESPONSE_URL_PREFIX). Errors come out as SlackError with Slack's error code;
`retryable` says whether trying again later may help (rate limits, Slack's 5xx, no network).
Tokens never reach an exception's text or a log line.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

logger = logging.getLogger("apps.integrations.slack")
# The SDK's own logger: at DEBUG it writes whole answers (oauth.v2.access's holds the bot
# token). It checks its logger's own level, so this one is held at INFO whatever LOGGING says.
sdk_logger = logging.getLogger("apps.integrations.slack.sdk")
sdk_logger.setLevel(logging.INFO)


class SlackError(Exception):
    """A Web API call failed; `code` is Slack's error ("channel_not_found") or ours."""

    def __init__(self, code: str, *, retryable: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(code)
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Installation:
    """What oauth.v2.access answers for a bot install."""

    team_id: str
    team_name: str
    bot_user_id: str
    scope: str
    access_token: str

    def __repr__(self) -> str:  # never the token
        return f"Installation(team_id={self.team_id!r}, bot_user_id={self.bot_user_id!r})"


def escape(text: str) -> str:
    """Escape text for Slack (&, <, >), as Slack asks: a charger's id or a detail it reported
    must not become a mention (`<!channel>`) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def web_client(token: str | None = None) -> WebClient:
    # No retry handlers of the SDK: its rate-limit handler sleeps inside the call; attempts are
    # counted and spaced by chat_post instead.
    return WebClient(
        token=token,
        base_url=settings.SLACK_API_URL,
        timeout=int(max(1, settings.SLACK_TIMEOUT)),
        retry_handlers=[],
        logger=sdk_logger,
    )


def _call(method: str, call: Any) -> dict[str, Any]:
    try:
        response = call()
    except SlackApiError as exc:
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"http_{status}")
        retry_after = 0.0
        if status == 429:
            retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
        raise SlackError(
            code, retryable=status == 429 or status >= 500, retry_after=retry_after
        ) from None
    except SlackClientError as exc:
        raise SlackError(f"client_error: {type(exc).__name__}", retryable=True) from None
    except OSError as exc:  # refused, reset, timed out
        raise SlackError(f"network: {type(exc).__name__}", retryable=True) from None
    logger.debug("slack %s ok", method)
    return dict(response.data) if isinstance(response.data, dict) else {}


def oauth_access(*, code: str, redirect_uri: str) -> Installation:
    """Exchange an install's `code` for the bot token (oauth.v2.access)."""
    data = _call(
        "oauth.v2.access",
        lambda: web_client().oauth_v2_access(
            client_id=settings.SLACK_CLIENT_ID,
            client_secret=settings.SLACK_CLIENT_SECRET,
            code=code,
            redirect_uri=redirect_uri,
        ),
    )
    team = data.get("team") or {}
    token = str(data.get("access_token") or "")
    if not token or not team.get("id"):
        raise SlackError("no_bot_token")
    return Installation(
        team_id=str(team["id"]),
        team_name=str(team.get("name") or ""),
        bot_user_id=str(data.get("bot_user_id") or ""),
        scope=str(data.get("scope") or ""),
        access_token=token,
    )


def auth_test(*, token: str) -> dict[str, Any]:
    """Return auth.test's answer for `token` (team, user, bot ids)."""
    return _call("auth.test", lambda: web_client(token).auth_test())


def chat_post(*, token: str, channel: str, text: str, blocks: list | None = None) -> str:
    """Post `text` to `channel`, trying up to SLACK_SEND_ATTEMPTS times; return the message ts.

    Rate limits and Slack's or the network's failures are tried again (waiting Retry-After,
    at most SLACK_RETRY_MAX_WAIT s); any other error (channel_not_found, not_in_channel,
    invalid_auth) is final at once.
    """
    attempts = max(1, settings.SLACK_SEND_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            data = _call(
                "chat.postMessage",
                lambda: web_client(token).chat_postMessage(
                    channel=channel, text=escape(text), blocks=blocks, unfurl_links=False
                ),
            )
        except SlackError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            wait = min(exc.retry_after, settings.SLACK_RETRY_MAX_WAIT)
            logger.info(
                "slack chat.postMessage to %s: %s, attempt %d of %d",
                channel,
                exc.code,
                attempt,
                attempts,
            )
            if wait > 0:
                time.sleep(wait)
            continue
        return str(data.get("ts") or "")
    raise SlackError("not_sent")  # not reached: the last attempt returns or raises


def response_url_allowed(url: str) -> bool:
    """Tell whether `url` is Slack's (a slash command's response_url), not any address."""
    return bool(url) and url.startswith(settings.SLACK_RESPONSE_URL_PREFIX)


def respond(*, url: str, text: str) -> None:
    """Answer a slash command later through its response_url (ephemeral, a new message)."""
    if not response_url_allowed(url):
        raise SlackError("response_url_refused")
    try:
        webhook = WebhookClient(url, timeout=int(max(1, settings.SLACK_TIMEOUT)), logger=sdk_logger)
        response = webhook.send(
            text=escape(text), response_type="ephemeral", replace_original=False
        )
    except OSError as exc:
        raise SlackError(f"network: {type(exc).__name__}", retryable=True) from None
    if response.status_code != 200:
        raise SlackError(f"http_{response.status_code}: {response.body[:100]}")
