"""Reads of the lifecycle app."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError

from apps.lifecycle.models import Channel, UpdatePolicy, Upgrade


def channel_current() -> str:
    """Return this node's update channel (UPDATE_CHANNEL until the first migrate seeds it)."""
    try:
        policy = UpdatePolicy.objects.filter(pk=1).first()
    except DatabaseError:  # tables not made yet: the node was never migrated
        policy = None
    if policy is not None:
        return policy.channel
    configured = getattr(settings, "UPDATE_CHANNEL", Channel.FIXED)
    return configured if configured in Channel.values else Channel.FIXED


def upgrades_recent(*, limit: int = 20) -> list[Upgrade]:
    """Return the latest upgrade attempts, newest first."""
    return list(Upgrade.objects.all()[:limit])
