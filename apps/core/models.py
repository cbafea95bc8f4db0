"""The one model of the foundations: the server processes that serve chargers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ServerProcess(models.Model):
    """A running server process: who holds a station's connection, or runs a simulator.

    Each serving process inserts its row when it starts (apps/core/processes.py) and
    refreshes `seen_at` every few seconds; a process whose row is gone, stale, or whose pid
    no longer runs on its own host is dead, and what it held is released.
    """

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    host = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("pid"))
    # Where `pid` means something: boot id and pid namespace (Linux), empty elsewhere.
    pid_scope = models.CharField(max_length=128, blank=True)
    # The pid's start time as /proc gives it: a reused pid is another process.
    pid_start = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(_("started"))
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("server process")
        verbose_name_plural = _("server processes")

    def __str__(self) -> str:
        return f"{self.host}:{self.pid} ({self.id[:8]})"
