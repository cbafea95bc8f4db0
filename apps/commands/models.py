from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation


class CommandStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    ERROR = "error", _("Error")
    TIMEOUT = "timeout", _("Timed out")
    OFFLINE = "offline", _("Charger offline")


FINAL_STATUSES = frozenset(
    {
        CommandStatus.ACCEPTED,
        CommandStatus.REJECTED,
        CommandStatus.ERROR,
        CommandStatus.TIMEOUT,
        CommandStatus.OFFLINE,
    }
)


class ChargerCommand(models.Model):
    """A CALL the CSMS sends to a charger, whoever asked for it, and how it ended."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="commands",
        verbose_name=_("station"),
    )
    action = models.CharField(_("action"), max_length=64)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("requested by"),
    )
    source = models.CharField(_("source"), max_length=16, default="api")
    timeout_s = models.FloatField(_("timeout (s)"))
    message_id = models.CharField(_("message id"), max_length=36, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_description = models.TextField(_("error description"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "status"])]
        verbose_name = _("charger command")
        verbose_name_plural = _("charger commands")

    def __str__(self) -> str:
        return f"{self.action} → {self.station.charger_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES
