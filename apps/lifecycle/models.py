"""This node's update channel and the history of its upgrade attempts (docs/lifecycle.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    FIXED = "fixed", _("fixed (never automatic)")
    STABLE = "stable", _("stable (weekly, newest release)")
    UNSTABLE = "unstable", _("unstable (every 15 minutes, head of main)")
    LATEST = "latest", _("latest (daily, newest release or pre-release)")


class UpdatePolicy(models.Model):
    """This node's update channel: one row, seeded from UPDATE_CHANNEL by the first migrate."""

    channel = models.CharField(
        _("update channel"), max_length=10, choices=Channel.choices, default=Channel.FIXED
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)
    changed_by = models.CharField(_("changed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("update channel")
        verbose_name_plural = _("update channel")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="lifecycle_one_update_policy")
        ]

    def __str__(self) -> str:
        return str(self.get_channel_display())


class Upgrade(models.Model):
    """One run of upgrade.sh that tried to move this node to another version."""

    class Result(models.TextChoices):
        RUNNING = "running", _("running")
        UPGRADED = "upgraded", _("upgraded")
        ROLLED_BACK = "rolled_back", _("rolled back")
        FAILED = "failed", _("failed")
        NO_UPGRADE = "no_upgrade", _("no upgrade")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    started_by = models.CharField(
        _("started by"), max_length=40, blank=True, help_text=_("manual, beat, or the admin.")
    )
    from_version = models.CharField(_("from version"), max_length=100, blank=True)
    from_commit = models.CharField(_("from commit"), max_length=40, blank=True)
    to_ref = models.CharField(_("target"), max_length=200, blank=True)
    to_version = models.CharField(_("to version"), max_length=100, blank=True)
    to_commit = models.CharField(_("to commit"), max_length=40, blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    result = models.CharField(
        _("result"), max_length=12, choices=Result.choices, default=Result.RUNNING
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    log = models.TextField(_("log"), blank=True)

    class Meta:
        verbose_name = _("upgrade")
        verbose_name_plural = _("upgrades")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_version or '?'} → {self.to_version or self.to_ref or '?'}"
