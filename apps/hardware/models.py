from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ServiceStatus(models.Model):
    """What a hardware service of this node is doing, as its supervisor last recorded it."""

    class State(models.TextChoices):
        IDLE = "idle", _("idle (feature off)")
        STARTING = "starting", _("starting")
        RUNNING = "running", _("running")
        FAILED = "failed", _("failed, restarting")
        STOPPED = "stopped", _("stopped")

    name = models.SlugField(_("service"), max_length=40, unique=True)
    feature = models.SlugField(_("feature"), max_length=40)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    restarts = models.PositiveIntegerField(_("restarts"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("hardware service")
        verbose_name_plural = _("hardware services")

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"
