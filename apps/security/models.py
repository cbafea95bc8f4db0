from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation


class SecurityEvent(models.Model):
    """A security event: reported by a station (SecurityEventNotification) or seen by us."""

    class Source(models.TextChoices):
        STATION = "station", _("Station")
        CSMS = "csms", _("CSMS")

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="security_events",
    )
    charger_id = models.CharField(_("charger id"), max_length=48, blank=True, db_index=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    event_type = models.CharField(_("type"), max_length=50, db_index=True)
    tech_info = models.TextField(_("technical information"), blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")

    def __str__(self) -> str:
        return f"{self.charger_id or '-'} {self.event_type}"
