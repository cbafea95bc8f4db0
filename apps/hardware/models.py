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


class AccessPoint(models.Model):
    """This node's Wi-Fi access point, as the operator configured it (applied by `manage.py
    access_point --apply`, run as root by the lifecycle scripts)."""

    class Mode(models.TextChoices):
        PUBLIC = "public", _("public Wi-Fi (NAT, clients isolated)")
        ROUTER = "router", _("router (NAT, clients see each other)")

    class Band(models.TextChoices):
        BG = "bg", _("2.4 GHz (bg)")
        A = "a", _("5 GHz (a)")

    interface = models.CharField(_("interface"), max_length=15, default="wlan0", unique=True)
    ssid = models.CharField(_("SSID"), max_length=32)
    # Kept only because nmcli needs it; write-only in the admin, never logged.
    password = models.CharField(_("password"), max_length=63, blank=True)
    band = models.CharField(_("band"), max_length=2, choices=Band.choices, default=Band.BG)
    channel = models.PositiveSmallIntegerField(_("channel"), null=True, blank=True)
    mode = models.CharField(_("mode"), max_length=6, choices=Mode.choices, default=Mode.PUBLIC)
    address = models.CharField(
        _("address"),
        max_length=18,
        default="10.42.0.1/24",
        help_text=_("This node's address on the access point, with the subnet's prefix."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("access point")
        verbose_name_plural = _("access points")

    def __str__(self) -> str:
        return f"{self.ssid} ({self.interface})"


class CardScan(models.Model):
    """A card read by this node's RFID scanner: what the card is, and what the scan did."""

    class Action(models.TextChoices):
        STARTED = "started", _("session started")
        STOPPED = "stopped", _("session stopped")
        NONE = "none", _("nothing")
        FAILED = "failed", _("failed")

    uid = models.CharField(_("card"), max_length=36, db_index=True)
    at = models.DateTimeField(_("scanned at"), db_index=True)
    result = models.CharField(
        _("result"), max_length=16, help_text=_("Authorization status of the card.")
    )
    action = models.CharField(
        _("action"), max_length=8, choices=Action.choices, default=Action.NONE
    )
    station = models.ForeignKey(
        "chargers.ChargingStation",
        verbose_name=_("station"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    command = models.ForeignKey(
        "commands.ChargerCommand",
        verbose_name=_("command"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("card scan")
        verbose_name_plural = _("last card scans")

    def __str__(self) -> str:
        return f"{self.uid} {self.result}"
