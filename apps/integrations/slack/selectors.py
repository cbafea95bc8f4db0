"""Reads of the Slack bot: the workspace, who a Slack user is here, where a notification goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q

from apps.chargers.models import ChargingStation
from apps.integrations.slack.models import SlackChannelRoute, SlackIdentity, SlackWorkspace

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def workspace_active(*, team_id: str | None = None) -> SlackWorkspace | None:
    """Return the installed, active workspace (`team_id`'s, or the latest installed)."""
    rows = SlackWorkspace.objects.filter(active=True)
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    return rows.order_by("-installed_at", "-pk").first()


def identity_user(*, team_id: str, slack_user_id: str) -> AbstractBaseUser | None:
    """Return the active operator linked to this Slack user, or None."""
    identity = (
        SlackIdentity.objects.select_related("user")
        .filter(team_id=team_id, slack_user_id=slack_user_id, user__is_active=True)
        .first()
    )
    return identity.user if identity is not None else None


def route_channel(*, kind: str, site_id: int | None) -> str | None:
    """Return the channel for `kind` about a station of `site_id`: the site's, else the default."""
    wanted = Q(site__isnull=True)
    if site_id is not None:
        wanted |= Q(site_id=site_id)
    routes = dict(
        SlackChannelRoute.objects.filter(wanted, kind=kind).values_list("site_id", "channel")
    )
    if site_id is not None and site_id in routes:
        return routes[site_id]
    return routes.get(None)


def station_site_id(*, station_id: int | None) -> int | None:
    if station_id is None:
        return None
    return ChargingStation.objects.filter(pk=station_id).values_list("site_id", flat=True).first()
