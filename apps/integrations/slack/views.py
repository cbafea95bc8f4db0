"""Slack's endpoints (URLs under /slack/): install, OAuth return, slash commands, events, link.

The slash-command and events endpoints answer only requests Slack signed (services.
request_verify): anything else gets 401 and leaves a security event. The install and the
link are operators' pages of the admin (staff, signed in).
"""

from __future__ import annotations

import json
import logging
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.integrations.slack import slash
from apps.integrations.slack.client import escape
from apps.integrations.slack.services import (
    InstallError,
    RequestRefused,
    identity_link,
    identity_link_read,
    install_finish,
    install_start,
    request_verify,
    workspace_deactivate,
)

logger = logging.getLogger("apps.integrations.slack")

INSTALL_PERMISSION = "slack.add_slackworkspace"
# Slack sends at most this much in a slash command or an event; more is not Slack.
MAX_BODY = 64 * 1024


def _enabled(view: Any) -> Any:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.SLACK_ENABLED:
            raise Http404("Slack is not enabled")
        return view(request, *args, **kwargs)

    return wrapper


def _workspaces_page() -> str:
    return reverse("admin:slack_slackworkspace_changelist")


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("slack:oauth-callback"))


@_enabled
@staff_member_required
@require_GET
def install(request: HttpRequest) -> HttpResponse:
    """Send the operator to Slack to add the app to a workspace."""
    if not request.user.has_perm(INSTALL_PERMISSION):
        return HttpResponse(_("You may not install the Slack app."), status=403)
    return HttpResponseRedirect(
        install_start(user=request.user, redirect_uri=_redirect_uri(request))
    )


@_enabled
@staff_member_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Slack sends the operator back here with a code (or an error) and our state."""
    if not request.user.has_perm(INSTALL_PERMISSION):
        return HttpResponse(_("You may not install the Slack app."), status=403)
    if request.GET.get("error"):
        messages.error(
            request,
            _("The install was not finished in Slack: %(error)s.")
            % {"error": request.GET["error"][:100]},
        )
        return HttpResponseRedirect(_workspaces_page())
    try:
        workspace = install_finish(
            user=request.user,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            redirect_uri=_redirect_uri(request),
        )
    except InstallError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_workspaces_page())
    messages.success(request, _("Constellation is installed in %(team)s.") % {"team": workspace})
    return HttpResponseRedirect(_workspaces_page())


def _verified(request: HttpRequest) -> JsonResponse | None:
    """Return the refusal of a request that is not Slack's, or None when it is."""
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "request too large"}, status=413)
    try:
        request_verify(body=request.body, headers=request.headers)
    except RequestRefused as exc:
        return JsonResponse({"error": f"request refused: {exc}"}, status=401)
    return None


@csrf_exempt  # Slack signs the request; there is no browser session to protect
@_enabled
@require_POST
def commands(request: HttpRequest) -> HttpResponse:
    """A slash command (`/constellation …`), answered at once and only to its user."""
    refused = _verified(request)
    if refused is not None:
        return refused
    text = slash.answer(request.POST, base_url=request.build_absolute_uri("/"))
    return JsonResponse({"response_type": "ephemeral", "text": escape(text)})


@csrf_exempt
@_enabled
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    """Slack's Events API: the URL check, and the app's uninstall or revoked tokens."""
    refused = _verified(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "the body is not a JSON object"}, status=400)
    kind = body.get("type")
    if kind == "url_verification":
        return JsonResponse({"challenge": str(body.get("challenge", ""))})
    if kind == "event_callback":
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("type") in ("app_uninstalled", "tokens_revoked"):
            workspace_deactivate(team_id=str(body.get("team_id", "")), reason=event["type"])
    return HttpResponse(status=200)


@_enabled
@staff_member_required
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    """Tie the Slack user of the link to the operator signed in (after a confirmation)."""
    context: dict[str, Any] = {"title": _("Link a Slack account")}
    try:
        team_id, slack_user = identity_link_read(token=token)
    except ValueError as exc:
        context["error"] = str(exc)
        return render(request, "slack/link.html", context, status=400)
    if request.method == "POST":
        identity_link(team_id=team_id, slack_user_id=slack_user, user=request.user)
        messages.success(request, _("Your Slack account is linked."))
        return HttpResponseRedirect(reverse("admin:index"))
    context.update({"team": team_id, "slack_user": slack_user})
    return render(request, "slack/link.html", context)
