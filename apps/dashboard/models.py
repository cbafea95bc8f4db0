from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_local_url(value: str) -> None:
    """Accept a path on this site only ("/admin/..."): a favorite never leads elsewhere."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise ValidationError(_("Give a path on this site, starting with /."))


class Favorite(models.Model):
    """A page or filtered list a user pinned; shown as a shortcut on the admin index."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="favorites",
        verbose_name=_("user"),
    )
    label = models.CharField(_("label"), max_length=100)
    url = models.CharField(
        _("address"),
        max_length=500,
        validators=[validate_local_url],
        help_text=_("A path on this site, with its filters: /admin/...?status=..."),
    )
    position = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["user", "position", "id"]
        indexes = [models.Index(fields=["user", "position"])]
        verbose_name = _("favorite")
        verbose_name_plural = _("favorites")

    def __str__(self) -> str:
        return self.label
