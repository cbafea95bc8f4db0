from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageLog(models.Model):
    """One OCPP-J frame in or out, kept for OCPP_MESSAGE_LOG_RETENTION_DAYS."""

    class Direction(models.TextChoices):
        IN = "in", _("Station → CSMS")
        OUT = "out", _("CSMS → station")

    # Indexed by (charger_id, -created_at) below: a second index would only cost each insert.
    charger_id = models.CharField(_("charger id"), max_length=48)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(_("message type"), null=True, blank=True)
    message_id = models.CharField(_("message id"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=64, blank=True)
    frame = models.TextField(_("frame"))
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["charger_id", "-created_at"])]
        verbose_name = _("OCPP message")
        verbose_name_plural = _("OCPP message log")

    def __str__(self) -> str:
        return f"{self.charger_id} {self.direction} {self.action or self.message_type}"
