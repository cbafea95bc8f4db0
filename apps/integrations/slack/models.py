"""The Slack bot's records: the workspace it is installed in, linked people, channels per site."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import Site
from apps.core.secrets import secret_decrypt, secret_encrypt

SECRET_PURPOSE = "slack"

# Slack's ids: a channel's starts with C (public) or G (private), then capitals and digits.
channel_id_validator = RegexValidator(
    r"^[CG][A-Z0-9]{6,30}$",
    _("A Slack channel id looks like C0123ABCD (not the channel's name)."),
)


class SlackWorkspace(models.Model):
    """A Slack workspace the bot is installed in (OAuth v2); its bot token kept encrypted."""

    team_id = models.CharField(_("team id"), max_length=32, unique=True)
    team_name = models.CharField(_("workspace"), max_length=200, blank=True)
    bot_user_id = models.CharField(_("bot user id"), max_length=32, blank=True)
    scope = models.TextField(_("scopes granted"), blank=True)
    # Encrypted (apps/core/secrets.py); set through set_token(), read through token().
    bot_token_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("bot token encrypted")
    )
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Off once the app is uninstalled or its token revoked in Slack."),
    )
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("installed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    installed_at = models.DateTimeField(_("installed"))

    class Meta:
        ordering = ["-installed_at", "-pk"]
        verbose_name = _("Slack workspace")
        verbose_name_plural = _("Slack workspaces")

    def __str__(self) -> str:
        return self.team_name or self.team_id

    def set_token(self, value: str) -> None:
        self.bot_token_encrypted = secret_encrypt(value, purpose=SECRET_PURPOSE)

    def token(self) -> str:
        return secret_decrypt(self.bot_token_encrypted, purpose=SECRET_PURPOSE)


class SlackOAuthState(models.Model):
    """The `state` of one install started here: single use, expiring, tied to who started it."""

    state = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("Slack install state")
        verbose_name_plural = _("Slack install states")

    def __str__(self) -> str:
        return f"state of {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class SlackIdentity(models.Model):
    """A Slack user linked to an operator: slash commands run with the operator's permissions."""

    team_id = models.CharField(_("team id"), max_length=32)
    slack_user_id = models.CharField(_("Slack user id"), max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("operator"),
        on_delete=models.CASCADE,
        related_name="slack_identities",
    )
    linked_at = models.DateTimeField(_("linked"), auto_now_add=True)

    class Meta:
        verbose_name = _("Slack identity")
        verbose_name_plural = _("Slack identities")
        constraints = [
            models.UniqueConstraint(fields=["team_id", "slack_user_id"], name="slack_identity_once")
        ]

    def __str__(self) -> str:
        return f"{self.slack_user_id} ({self.team_id}) → {self.user}"


class NotificationKind(models.TextChoices):
    FAULTS = "faults", _("Faults and stations offline")
    SESSIONS = "sessions", _("Sessions ended")
    SECURITY = "security", _("Security events")


class SlackChannelRoute(models.Model):
    """Where one kind of notification about a site's stations goes (no site: the default)."""

    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="slack_routes",
        help_text=_("Empty: stations without a site, and sites without a channel of their own."),
    )
    kind = models.CharField(_("notifications"), max_length=12, choices=NotificationKind.choices)
    channel = models.CharField(
        _("channel id"),
        max_length=32,
        validators=[channel_id_validator],
        help_text=_("Slack's channel id (C0123ABCD): channel details → About, at the bottom."),
    )

    class Meta:
        ordering = ["site__name", "kind"]
        verbose_name = _("Slack channel")
        verbose_name_plural = _("Slack channels")
        constraints = [
            models.UniqueConstraint(fields=["site", "kind"], name="slack_route_once"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(site=None), name="slack_route_default_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site or _('default')}: {self.get_kind_display()} → {self.channel}"


class SlackSeenRequest(models.Model):
    """A signature of a request already accepted: the same one again is a replay."""

    signature = models.CharField(max_length=80, unique=True)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("Slack request seen")
        verbose_name_plural = _("Slack requests seen")

    def __str__(self) -> str:
        return self.signature
