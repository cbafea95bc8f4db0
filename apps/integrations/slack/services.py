"""Writes of the Slack bot: install, signed requests, linked identities, notifications sent.

docs/slack.md tells the operator's side of each.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from slack_sdk.oauth import AuthorizeUrlGenerator
from slack_sdk.signature import SignatureVerifier

from apps.core.timeutil import utcnow
from apps.integrations.slack import client
from apps.integrations.slack.client import SlackError
from apps.integrations.slack.models import (
    SlackIdentity,
    SlackOAuthState,
    SlackSeenRequest,
    SlackWorkspace,
)
from apps.integrations.slack.selectors import route_channel, station_site_id, workspace_active
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger("apps.integrations.slack")

# What the bot asks for at install: slash commands, and posting where it is invited.
BOT_SCOPES = ("commands", "chat:write")
# An install not finished within this is refused (its state forgotten).
STATE_TTL = timedelta(minutes=10)
# A link a Slack user got from /constellation link stays good this long (seconds).
LINK_MAX_AGE_S = 15 * 60
LINK_SALT = "constellation.slack.link"

# The security events a refused request leaves (SecurityEvent.source CSMS).
REQUEST_FORGED = "SlackRequestForged"
REQUEST_STALE = "SlackRequestStale"
REQUEST_REPLAYED = "SlackRequestReplayed"


class InstallError(Exception):
    """An install could not be finished; the text is for the operator."""


class RequestRefused(Exception):
    """A request that is not Slack's (unsigned, forged, stale, replayed); the text says why."""


# --- Install (OAuth v2) ---------------------------------------------------------------------


def install_start(*, user: AbstractBaseUser, redirect_uri: str) -> str:
    """Remember a single-use state for `user` and return Slack's authorize URL."""
    now = utcnow()
    SlackOAuthState.objects.filter(created_at__lt=now - STATE_TTL).delete()
    state = secrets.token_urlsafe(32)
    SlackOAuthState.objects.create(state=state, user=user, created_at=now)
    generator = AuthorizeUrlGenerator(
        client_id=settings.SLACK_CLIENT_ID,
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect_uri,
        authorization_url=settings.SLACK_AUTHORIZE_URL,
    )
    return generator.generate(state)


def _state_take(*, state: str, user: AbstractBaseUser) -> None:
    """Use up `state` of `user`; raise InstallError when unknown, someone else's or expired."""
    with transaction.atomic():
        row = SlackOAuthState.objects.select_for_update().filter(state=state).first()
        if row is None or row.user_id != user.pk:
            raise InstallError(_("This install link is unknown or was used already."))
        row.delete()
    if row.created_at < utcnow() - STATE_TTL:
        raise InstallError(_("This install link expired; start the install again."))


def install_finish(
    *, user: AbstractBaseUser, state: str, code: str, redirect_uri: str
) -> SlackWorkspace:
    """Finish an install: check the state, get the bot token, keep it encrypted."""
    if not state or not code:
        raise InstallError(_("Slack sent no code: the install was cancelled or refused."))
    _state_take(state=state, user=user)
    try:
        installed = client.oauth_access(code=code, redirect_uri=redirect_uri)
        who = client.auth_test(token=installed.access_token)
    except SlackError as exc:
        logger.warning("slack install refused by Slack: %s", exc.code)
        raise InstallError(_("Slack refused the install: %(code)s.") % {"code": exc.code}) from None
    if who.get("team_id") and who["team_id"] != installed.team_id:
        raise InstallError(_("Slack answered for another workspace; install again."))
    workspace = SlackWorkspace.objects.filter(team_id=installed.team_id).first() or (
        SlackWorkspace(team_id=installed.team_id)
    )
    workspace.team_name = installed.team_name or str(who.get("team") or "")
    workspace.bot_user_id = installed.bot_user_id or str(who.get("user_id") or "")
    workspace.scope = installed.scope
    workspace.active = True
    workspace.installed_by = user if user.is_authenticated else None
    workspace.installed_at = utcnow()
    workspace.set_token(installed.access_token)
    workspace.save()
    logger.info("slack installed in workspace %s (%s)", workspace.team_id, workspace.team_name)
    return workspace


def workspace_deactivate(*, team_id: str, reason: str) -> int:
    """Mark the workspace uninstalled (Slack told us: app_uninstalled, tokens_revoked)."""
    changed = SlackWorkspace.objects.filter(team_id=team_id, active=True).update(
        active=False, bot_token_encrypted=""
    )
    if changed:
        logger.warning("slack workspace %s deactivated: %s", team_id, reason)
    return changed


# --- Signed requests ------------------------------------------------------------------------


def _refuse(event_type: str, detail: str) -> RequestRefused:
    security_event_record(
        source=SecurityEvent.Source.CSMS, event_type=event_type, tech_info=detail[:500]
    )
    return RequestRefused(detail)


def request_verify(*, body: bytes, headers: Mapping[str, str], now: float | None = None) -> None:
    """Accept a request only if Slack signed it (v0 HMAC), recently, and it is not a replay.

    Raise RequestRefused otherwise, after recording a security event. The signatures accepted
    are remembered for twice the tolerance: the same request sent again is refused.
    """
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        raise RequestRefused("Slack is not configured here (SLACK_SIGNING_SECRET)")
    lower = {key.lower(): value for key, value in headers.items()}
    timestamp = lower.get("x-slack-request-timestamp", "")
    signature = lower.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise _refuse(REQUEST_FORGED, "request without Slack's signature headers")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise _refuse(REQUEST_FORGED, "request timestamp is not a number") from None
    clock = time.time() if now is None else now
    tolerance = settings.SLACK_REQUEST_TOLERANCE
    if abs(clock - sent_at) > tolerance:
        raise _refuse(REQUEST_STALE, f"request signed {int(clock - sent_at)} s from now")
    verifier = SignatureVerifier(secret)
    expected = verifier.generate_signature(timestamp=timestamp, body=body) or ""
    if not secrets.compare_digest(expected.encode(), signature.encode()):
        raise _refuse(REQUEST_FORGED, "request signature does not match the signing secret")
    seen_at = utcnow()
    SlackSeenRequest.objects.filter(seen_at__lt=seen_at - timedelta(seconds=2 * tolerance)).delete()
    try:
        with transaction.atomic():
            SlackSeenRequest.objects.create(signature=signature[:80], seen_at=seen_at)
    except IntegrityError:
        raise _refuse(REQUEST_REPLAYED, "request already received (same signature)") from None


# --- Linked identities ----------------------------------------------------------------------


def identity_link_token(*, team_id: str, slack_user_id: str) -> str:
    """Return the signed token of a link offered to a Slack user (expires in LINK_MAX_AGE_S)."""
    return signing.dumps({"t": team_id, "u": slack_user_id}, salt=LINK_SALT)


def identity_link_read(*, token: str) -> tuple[str, str]:
    """Return (team id, Slack user id) of a link token; raise ValueError when bad or old."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE_S)
    except signing.SignatureExpired:
        raise ValueError(_("This link expired: type /constellation link again.")) from None
    except signing.BadSignature:
        raise ValueError(_("This link is not valid.")) from None
    return str(data["t"]), str(data["u"])


def identity_link(*, team_id: str, slack_user_id: str, user: AbstractBaseUser) -> SlackIdentity:
    """Link the Slack user to `user` (a previous link of that Slack user is replaced)."""
    identity, _created = SlackIdentity.objects.update_or_create(
        team_id=team_id, slack_user_id=slack_user_id, defaults={"user": user}
    )
    logger.info("slack user %s (%s) linked to %s", slack_user_id, team_id, user.get_username())
    return identity


# --- Notifications --------------------------------------------------------------------------


def notification_send(*, kind: str, station_id: int | None, text: str) -> bool:
    """Post `text` to the channel of `kind` for the station's site; False when none is set.

    Raise SlackError when Slack refused it after the bounded attempts.
    """
    channel = route_channel(kind=kind, site_id=station_site_id(station_id=station_id))
    workspace = workspace_active()
    if channel is None or workspace is None:
        return False
    token = workspace.token()
    if not token:
        logger.warning("slack workspace %s has no readable token: install again", workspace)
        return False
    client.chat_post(token=token, channel=channel, text=text)
    return True
