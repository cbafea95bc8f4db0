from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation, OcppVersion
from apps.simulator.fleet import charger_ids
from apps.simulator.state import DEFAULT_ID_TAG, id_tag_for

MAX_CHARGERS = 10_000
# Longest id tag (1.6 idTag) / id token (2.x idToken) of each version.
ID_TAG_LIMITS = {OcppVersion.V16: 20, OcppVersion.V201: 36, OcppVersion.V21: 36}


def validate_ws_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValidationError(_("Give a ws:// or wss:// URL, e.g. ws://127.0.0.1:8000/ocpp/."))


class Simulator(models.Model):
    """A fleet of simulated chargers operators start and stop from the admin."""

    class Mode(models.TextChoices):
        SCRIPTED = "scripted", _("Scripted sessions")
        IDLE = "idle", _("Idle (heartbeats; sessions by remote start)")

    class Status(models.TextChoices):
        STOPPED = "stopped", _("Stopped")
        RUNNING = "running", _("Running")
        ERROR = "error", _("Error")

    name = models.CharField(_("name"), max_length=100, unique=True)
    ocpp_version = models.CharField(
        _("OCPP version"), max_length=16, choices=OcppVersion.choices, default=OcppVersion.V16
    )
    charger_count = models.PositiveIntegerField(
        _("chargers"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CHARGERS)],
    )
    prefix = models.CharField(
        _("charger id prefix"),
        max_length=40,
        default="SIM-",
        help_text=_(
            "Charger ids are the prefix and a number: SIM1-0001, SIM1-0002, ... A new "
            "simulator's is one that no station or simulator uses yet."
        ),
    )
    connectors = models.PositiveSmallIntegerField(
        _("connectors per charger"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("OCPP 1.6 connectors, or OCPP 2.x EVSEs of one connector each."),
    )
    meter_interval = models.FloatField(
        _("meter interval (s)"), default=10.0, validators=[MinValueValidator(0.1)]
    )
    session_duration = models.FloatField(
        _("session duration (s)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text=_("How long a scripted session lasts; blank: six meter intervals."),
    )
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.SCRIPTED)
    id_tag = models.CharField(
        _("id tag"),
        max_length=36,
        default=DEFAULT_ID_TAG,
        help_text=_(
            "The tag scripted sessions present. {n} is the charger's number and {c} the "
            "connector: sessions running at once need tags of their own."
        ),
    )
    password = models.CharField(
        _("password"),
        max_length=64,
        blank=True,
        help_text=_(
            "HTTP Basic password the chargers send when they connect. Kept readable: the "
            "simulator has to send it."
        ),
    )
    url = models.CharField(
        _("target URL"),
        max_length=200,
        blank=True,
        validators=[validate_ws_url],
        help_text=_("The CSMS endpoint, e.g. ws://127.0.0.1:8000/ocpp/; blank: this server."),
    )
    register_stations = models.BooleanField(
        _("register on this server"),
        default=True,
        help_text=_(
            "When the target is this server: record the chargers as accepted stations and the "
            "id tag as valid before starting, so sessions work without approving anything."
        ),
    )
    request_certificate = models.BooleanField(
        _("request a station certificate"),
        default=False,
        help_text=_(
            "After booting, a charger without a station certificate sends a certificate "
            "signing request (SignCertificate); the CSMS's CA signs it."
        ),
    )
    organization = models.CharField(
        _("certificate organisation"),
        max_length=64,
        blank=True,
        help_text=_(
            "The O of the chargers' certificate signing requests; blank: this server's "
            "OCPP_CERTIFICATE_ORGANIZATION when the target is this server."
        ),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.STOPPED, editable=False
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True, editable=False)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True, editable=False)
    reported_at = models.DateTimeField(_("last report"), null=True, blank=True, editable=False)
    # The server process running the fleet (apps.core.ServerProcess id): when it is gone, the
    # simulator is stopped (apps/core/processes.py).
    run_by = models.CharField(max_length=32, blank=True, editable=False, verbose_name=_("run by"))
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    counters = models.JSONField(_("counters"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("simulator")
        verbose_name_plural = _("simulators")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        count = self.charger_count or 1
        errors = {}
        if len(charger_ids(self.prefix, count)[-1]) > 48 or ":" in self.prefix:
            errors["prefix"] = _("Charger ids must be at most 48 characters, without ':'.")
        limit = ID_TAG_LIMITS.get(self.ocpp_version, 36)
        if len(id_tag_for(self.id_tag, count, self.connectors or 1)) > limit:
            errors["id_tag"] = _("Id tags of this OCPP version are at most %(n)d characters.") % {
                "n": limit
            }
        if (
            self.prefix
            and Simulator.objects.exclude(pk=self.pk).filter(prefix=self.prefix).exists()
        ):
            errors["prefix"] = _(
                "Another simulator has this prefix: both would run the same chargers."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def charger_ids(self) -> list[str]:
        return charger_ids(self.prefix, self.charger_count)


class SimulatedStation(models.Model):
    """A station that a simulator created by registering its chargers on this server.

    Registering changes only the stations its simulator created (issue #20): a station that
    exists for any other reason (a real charger, another simulator, an operator) is left
    alone. No simulator: created by manage.py simulate --register.
    """

    station = models.OneToOneField(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="simulated_by",
        verbose_name=_("station"),
    )
    simulator = models.ForeignKey(
        Simulator,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="stations",
        verbose_name=_("simulator"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("simulated station")
        verbose_name_plural = _("simulated stations")

    def __str__(self) -> str:
        return f"{self.station_id} ({self.simulator or 'manage.py simulate'})"
