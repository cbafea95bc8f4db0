from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.protocol.versions import BY_SUBPROTOCOL, V16
from apps.protocol.versions import OcppVersion as ProtocolVersion


class RegistrationStatus(models.TextChoices):
    PENDING = "Pending", _("Pending")
    ACCEPTED = "Accepted", _("Accepted")
    REJECTED = "Rejected", _("Rejected")


class SecurityProfile(models.IntegerChoices):
    """OCPP security profiles; 0 lets the station in without credentials."""

    NONE = 0, _("0 - no credentials (only when OCPP_ALLOW_UNSECURED is on)")
    BASIC = 1, _("1 - HTTP Basic authentication")
    TLS_BASIC = 2, _("2 - TLS with Basic authentication")
    TLS_CLIENT_CERT = 3, _("3 - TLS with client certificate")


class OcppVersion(models.TextChoices):
    V16 = "ocpp1.6", "OCPP 1.6"
    V201 = "ocpp2.0.1", "OCPP 2.0.1"
    V21 = "ocpp2.1", "OCPP 2.1"


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            _("%(value)s is not a time zone (e.g. Europe/Rome)."), params={"value": value}
        ) from error


class Site(models.Model):
    """A place with stations: a car park, a depot, a customer's premises.

    Stations without a site keep working. Operators see and act only on the stations of the
    sites they are members of (SiteMembership, apps/chargers/tenancy.py); superusers and
    holders of the "all sites" permission see every station, those without a site included.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    address = models.CharField(_("address"), max_length=250, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text=_("IANA name, e.g. Europe/Rome: the site's local time for tariffs and pages."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        permissions = [
            ("all_sites", _("Can see and act on every site, and on stations without a site")),
        ]

    def __str__(self) -> str:
        return self.name


class SiteMembership(models.Model):
    """An operator's access to a site: WHERE they act; Django permissions say WHAT they may do."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="site_memberships",
    )
    site = models.ForeignKey(
        Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["site", "user"]
        verbose_name = _("site membership")
        verbose_name_plural = _("site memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="site_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site}"


class ChargingStation(models.Model):
    """A charger (OCPP charge point / charging station), known by the id in its URL."""

    charger_id = models.CharField(_("charger id"), max_length=48, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stations",
    )
    registration_status = models.CharField(
        _("registration"),
        max_length=16,
        choices=RegistrationStatus.choices,
        default=RegistrationStatus.PENDING,
        help_text=_("Answer given to BootNotification; Pending until an operator approves."),
    )
    preferred_ocpp_version = models.CharField(
        _("preferred OCPP version"),
        max_length=16,
        choices=OcppVersion.choices,
        blank=True,
        help_text=_("Chosen when the charger offers it; blank picks the newest offered."),
    )
    ocpp_version = models.CharField(
        _("negotiated OCPP version"), max_length=16, choices=OcppVersion.choices, blank=True
    )
    free_charging = models.BooleanField(
        _("free charging"), default=False, help_text=_("Accept unknown id tags.")
    )
    # What BootNotification answers when it accepts the station (OCPP: the station takes it).
    heartbeat_interval = models.PositiveIntegerField(
        _("heartbeat interval (s)"),
        null=True,
        blank=True,
        help_text=_(
            "Told to the station when it boots. Set when the station accepts a change of "
            "HeartbeatInterval; empty: the server's default."
        ),
    )
    # Security: how the station must authenticate its websocket.
    security_profile = models.PositiveSmallIntegerField(
        _("security profile"),
        choices=SecurityProfile.choices,
        default=SecurityProfile.NONE,
        help_text=_("The weakest way the station may connect; weaker attempts are refused."),
    )
    password_hash = models.CharField(_("password hash"), max_length=200, blank=True)
    pending_password_hash = models.CharField(
        _("new password hash"),
        max_length=200,
        blank=True,
        help_text=_("A rotated password sent to the station; both work until it accepts."),
    )
    password_set_at = models.DateTimeField(_("password set"), null=True, blank=True)
    # Identity from BootNotification.
    vendor = models.CharField(_("vendor"), max_length=50, blank=True)
    model = models.CharField(_("model"), max_length=50, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=25, blank=True)
    charge_box_serial_number = models.CharField(
        _("charge box serial number"), max_length=25, blank=True
    )
    firmware_version = models.CharField(_("firmware version"), max_length=50, blank=True)
    iccid = models.CharField(_("ICCID"), max_length=20, blank=True)
    imsi = models.CharField(_("IMSI"), max_length=20, blank=True)
    meter_type = models.CharField(_("meter type"), max_length=25, blank=True)
    meter_serial_number = models.CharField(_("meter serial number"), max_length=25, blank=True)
    # Connection state.
    is_connected = models.BooleanField(_("connected"), default=False)
    # Which connection the station is on: a late close of a replaced one must not count.
    connection_id = models.CharField(
        max_length=32, blank=True, editable=False, verbose_name=_("connection id")
    )
    # The server process holding that connection (apps.core.ServerProcess id): when it dies,
    # another process releases the station (apps/core/processes.py).
    connected_by = models.CharField(
        max_length=32, blank=True, editable=False, verbose_name=_("connected by")
    )
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    disconnected_at = models.DateTimeField(_("disconnected at"), null=True, blank=True)
    last_boot_at = models.DateTimeField(_("last boot"), null=True, blank=True)
    last_boot_reason = models.CharField(_("last boot reason"), max_length=32, blank=True)
    last_heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # Progress of uploads/updates the station reports.
    firmware_status = models.CharField(_("firmware status"), max_length=32, blank=True)
    firmware_status_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("firmware status at")
    )
    diagnostics_status = models.CharField(_("diagnostics status"), max_length=32, blank=True)
    diagnostics_status_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("diagnostics status at")
    )
    local_list_version = models.IntegerField(
        _("local list version"),
        null=True,
        blank=True,
        help_text=_("Version of the local authorization list the station holds, as last seen."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["charger_id"]
        verbose_name = _("charging station")
        verbose_name_plural = _("charging stations")

    def __str__(self) -> str:
        return self.name or self.charger_id

    def get_absolute_url(self) -> str:
        return reverse("admin:chargers_chargingstation_change", args=[self.pk])

    @property
    def is_accepted(self) -> bool:
        return self.registration_status == RegistrationStatus.ACCEPTED

    @property
    def protocol_version(self) -> ProtocolVersion:
        """The OCPP version the station speaks: the negotiated one, 1.6 before any."""
        return BY_SUBPROTOCOL.get(self.ocpp_version, V16)


class Connector(models.Model):
    """A connector of a station; connector 0 stands for the station as a whole."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="connectors"
    )
    # OCPP 1.6 connector id, or the OCPP 2.x EVSE id (the unit a driver uses in both).
    connector_id = models.PositiveIntegerField(_("connector id"))
    evse_connector_id = models.PositiveIntegerField(
        _("2.x connector id"),
        null=True,
        blank=True,
        help_text=_("OCPP 2.x: the connector of the EVSE that reported last."),
    )
    status = models.CharField(_("status"), max_length=32, blank=True)
    error_code = models.CharField(_("error code"), max_length=50, blank=True)
    info = models.CharField(_("info"), max_length=50, blank=True)
    vendor_id = models.CharField(_("vendor id"), max_length=255, blank=True)
    vendor_error_code = models.CharField(_("vendor error code"), max_length=50, blank=True)
    status_at = models.DateTimeField(_("status time"), null=True, blank=True)
    availability = models.CharField(
        _("availability"),
        max_length=16,
        default="Operative",
        help_text=_("Operative or Inoperative, as last set with ChangeAvailability."),
    )
    availability_scheduled = models.BooleanField(
        _("availability change scheduled"),
        default=False,
        help_text=_("The station accepted the change for after the running transaction."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["station", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "connector_id"], name="connector_unique_per_station"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station.charger_id}#{self.connector_id}"


class StatusEvent(models.Model):
    """One StatusNotification as received: the history behind Connector.status."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="status_events",
        verbose_name=_("station"),
    )
    connector_id = models.PositiveIntegerField(verbose_name=_("connector id"))
    status = models.CharField(max_length=32, verbose_name=_("status"))
    error_code = models.CharField(max_length=50, blank=True, verbose_name=_("error code"))
    info = models.CharField(max_length=50, blank=True, verbose_name=_("info"))
    vendor_id = models.CharField(max_length=255, blank=True, verbose_name=_("vendor id"))
    vendor_error_code = models.CharField(
        max_length=50, blank=True, verbose_name=_("vendor error code")
    )
    timestamp = models.DateTimeField(null=True, blank=True, verbose_name=_("timestamp"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("status notification")
        verbose_name_plural = _("status notifications")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["station", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id} {self.status}"


class StationReport(models.Model):
    """A progress report of the station: firmware or diagnostics upload status."""

    class Kind(models.TextChoices):
        FIRMWARE = "firmware", _("Firmware")
        DIAGNOSTICS = "diagnostics", _("Diagnostics")

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="reports", verbose_name=_("station")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    status = models.CharField(max_length=32, verbose_name=_("status"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.status}"


class DataTransfer(models.Model):
    """A vendor DataTransfer, kept whole, with the status we answered."""

    class Direction(models.TextChoices):
        FROM_STATION = "in", _("From station")
        TO_STATION = "out", _("To station")

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="data_transfers",
        verbose_name=_("station"),
    )
    direction = models.CharField(
        max_length=3, choices=Direction.choices, verbose_name=_("direction")
    )
    vendor_id = models.CharField(max_length=255, verbose_name=_("vendor id"))
    message_id = models.CharField(max_length=50, blank=True, verbose_name=_("message id"))
    data = models.TextField(blank=True, verbose_name=_("data"))
    status = models.CharField(max_length=32, blank=True, verbose_name=_("status"))
    response_data = models.TextField(
        blank=True,
        help_text=_("Data the station answered to a DataTransfer we sent."),
        verbose_name=_("response data"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("data transfer")
        verbose_name_plural = _("data transfers")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.vendor_id}/{self.message_id}"


class ConfigurationKey(models.Model):
    """A configuration key (1.6) of a station, as last read or set."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="configuration"
    )
    key = models.CharField(_("key"), max_length=100)
    value = models.TextField(_("value"), blank=True, null=True)
    readonly = models.BooleanField(_("read-only"), default=False)
    known = models.BooleanField(
        _("known to the station"),
        default=True,
        help_text=_("False when the station reported the key as unknown."),
    )
    last_change_status = models.CharField(_("last change status"), max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("configuration key")
        verbose_name_plural = _("configuration keys")
        ordering = ["station", "key"]
        constraints = [
            models.UniqueConstraint(fields=["station", "key"], name="configuration_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"
