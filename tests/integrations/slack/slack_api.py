"""A local HTTP server that speaks the parts of Slack the bot uses, as Slack documents them.

Web API (https://docs.slack.dev/reference/methods): POST https://slack.com/api/<method>,
answers HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`; a rate limit
is HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.

- `oauth.v2.access`: client id and secret in HTTP Basic, form `code` (single use) and
  `redirect_uri` (must be the one the authorize step was given); answers the bot token, its
  scopes, `bot_user_id` and `team {id, name}`.
- `auth.test`: `Authorization: Bearer <token>`; answers team, team_id, user_id, bot_id.
- `chat.postMessage`: Bearer token, `channel` and `text` (JSON or form); `channel_not_found`
  for a channel the workspace has not.

A slash command's `response_url` (https://hooks.slack.com/commands/...) takes a JSON message
and answers 200 `ok`.

The OAuth page (https://slack.com/oauth/v2/authorize) is played as a user who clicks
"Allow": it redirects to `redirect_uri?code=…&state=…` with a fresh code.

Signed requests (https://docs.slack.dev/authentication/verifying-requests-from-slack):
`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>" with the signing secret>`
and `X-Slack-Request-Timestamp: <unix seconds>`; `signed_headers` builds them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "client-secret-of-the-test-app"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0CONSTEL"
TEAM_NAME = "Constellation Ops"
BOT_USER_ID = "U0BOT0001"

_codes = itertools.count(1)


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None):
    """Return the headers Slack puts on a request with `body`, signed at `timestamp` (now)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"HTTP_X_SLACK_SIGNATURE": signature, "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts}


def slash_body(
    text: str,
    *,
    user_id: str = "U0OPER001",
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/commands/T0CONSTEL/1/abc",
) -> bytes:
    """Return a slash command's body as Slack posts it (application/x-www-form-urlencoded)."""
    return urlencode(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",  # Slack's deprecated verification token
            "team_id": team_id,
            "team_domain": "constellation-ops",
            "enterprise_id": "",
            "channel_id": "C0OPS0001",
            "channel_name": "ops",
            "user_id": user_id,
            "user_name": "mario",
            "command": "/constellation",
            "text": text,
            "api_app_id": "A0APP0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()


@dataclass
class SlackState:
    """What the fake Slack knows and saw; tests read and set it."""

    base: str = ""
    channels: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    posted: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # to response_urls
    calls: list[str] = field(default_factory=list)
    # HTTP statuses to answer the next chat.postMessage calls with, before answering normally.
    fail_next: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def reset(self) -> None:
        self.channels.clear()
        self.tokens.clear()
        self.codes.clear()
        self.posted.clear()
        self.responses.clear()
        self.calls.clear()
        self.fail_next.clear()

    def wait_posted(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.posted) >= count, timeout)
        return list(self.posted)

    def wait_responses(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.responses) >= count, timeout)
        return list(self.responses)

    def wait_calls(self, method: str, count: int, timeout: float = 10.0) -> list[str]:
        with self.arrived:
            self.arrived.wait_for(lambda: self.calls.count(method) >= count, timeout)
        return list(self.calls)


class _Handler(BaseHTTPRequestHandler):
    state: SlackState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self, status: int, data: dict[str, Any], headers: dict | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _form(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if "json" in (self.headers.get("Content-Type") or ""):
            return json.loads(raw or b"{}")
        return {key: values[0] for key, values in parse_qs(raw.decode()).items()}

    def _bearer(self) -> str:
        value = self.headers.get("Authorization") or ""
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/oauth/v2/authorize":
            self._answer(404, {"ok": False, "error": "unknown_method"})
            return
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if query.get("client_id") != CLIENT_ID or "commands" not in query.get("scope", ""):
            self._answer(400, {"ok": False, "error": "invalid_client_id"})
            return
        code = f"code-{next(_codes)}"
        self.state.codes[code] = query.get("redirect_uri", "")
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        state = self.state
        if path.startswith("/commands/"):
            with state.arrived:
                state.responses.append({"path": path, **form})
                state.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        method = path.removeprefix("/api/")
        try:
            answer = getattr(self, "_" + method.replace(".", "_"))(form)
        except AttributeError:
            answer = (404, {"ok": False, "error": "unknown_method"}, None)
        with state.arrived:
            state.calls.append(method)
            state.arrived.notify_all()
        self._answer(*answer)

    def _oauth_v2_access(self, form: dict[str, Any]) -> tuple:
        basic = self.headers.get("Authorization") or ""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != f"Basic {expected}":
            return 200, {"ok": False, "error": "invalid_client"}, None
        redirect = self.state.codes.pop(form.get("code", ""), None)
        if redirect is None:
            return 200, {"ok": False, "error": "invalid_code"}, None
        if form.get("redirect_uri") and form["redirect_uri"] != redirect:
            return 200, {"ok": False, "error": "bad_redirect_uri"}, None
        token = f"xoxb-17653672481-{next(_codes)}-bKAJGwNEF5jXXQ9ALuYbSmk5"
        self.state.tokens.add(token)
        return (
            200,
            {
                "ok": True,
                "access_token": token,
                "token_type": "bot",
                "scope": "commands,chat:write",
                "bot_user_id": BOT_USER_ID,
                "app_id": "A0APP0001",
                "team": {"name": TEAM_NAME, "id": TEAM_ID},
                "enterprise": None,
                "authed_user": {"id": "U0OPER001"},
                "is_enterprise_install": False,
            },
            None,
        )

    def _auth_test(self, form: dict[str, Any]) -> tuple:
        if self._bearer() not in self.state.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, None
        return (
            200,
            {
                "ok": True,
                "url": "https://constellation-ops.slack.com/",
                "team": TEAM_NAME,
                "user": "constellation",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "B0BOT0001",
                "is_enterprise_install": False,
            },
            None,
        )

    def _chat_postMessage(self, form: dict[str, Any]) -> tuple:
        state = self.state
        if state.fail_next:
            status = state.fail_next.pop(0)
            if status == 429:
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}
            return status, {"ok": False, "error": "internal_error"}, None
        if self._bearer() not in state.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, None
        channel = form.get("channel", "")
        if channel not in state.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, None
        if not form.get("text") and not form.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, None
        ts = f"{time.time():.6f}"
        with state.arrived:
            state.posted.append({"channel": channel, "text": form.get("text", ""), "ts": ts})
            state.arrived.notify_all()
        return (
            200,
            {"ok": True, "channel": channel, "ts": ts, "message": {"text": form["text"]}},
            None,
        )


class SlackServer:
    """The fake Slack on a free loopback port, in a daemon thread."""

    def __enter__(self) -> SlackState:
        self.state = SlackState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.state.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
