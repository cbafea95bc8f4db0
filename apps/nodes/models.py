"""This node and its feature switches.

One `Node` row is this node (`local=True`); other rows are reserved for nodes this one knows
(a Watchtower's constellation). The role seeds which features are on by default; what a
feature does is asked of the catalogue (`apps.nodes.features`), never of the role name.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    TERMINAL = "terminal", _("Terminal")
    CONTROL = "control", _("Control")
    SATELLITE = "satellite", _("Satellite")
    WATCHTOWER = "watchtower", _("Watchtower")


class Mode(models.TextChoices):
    AUTO = "auto", _("auto (role default, if detected)")
    ON = "on", _("on")
    OFF = "off", _("off")


class Node(models.Model):
    """A node of the suite; the one with `local=True` is this node."""

    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.TERMINAL)
    hostname = models.CharField(_("hostname"), max_length=255, blank=True)
    addresses = models.JSONField(
        _("addresses"), default=list, blank=True, help_text=_("IP addresses of this node.")
    )
    port = models.PositiveIntegerField(_("port"), default=8000)
    version = models.CharField(_("version"), max_length=64, blank=True)
    installed_at = models.DateTimeField(_("installed at"), null=True, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    local = models.BooleanField(_("this node"), default=False, editable=False)

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("nodes")
        constraints = [
            models.UniqueConstraint(
                fields=["local"], condition=models.Q(local=True), name="nodes_one_local_node"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class FeatureSwitch(models.Model):
    """An operator's switch for one feature of a node: on, off, or auto (the role's default)."""

    node = models.ForeignKey(
        Node, verbose_name=_("node"), on_delete=models.CASCADE, related_name="switches"
    )
    slug = models.SlugField(_("feature"), max_length=40)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.AUTO)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)
    changed_by = models.CharField(_("changed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("feature switch")
        verbose_name_plural = _("feature switches")
        constraints = [
            models.UniqueConstraint(fields=["node", "slug"], name="nodes_one_switch_per_feature")
        ]

    def __str__(self) -> str:
        return f"{self.slug}: {self.mode}"
