from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation, Connector
from apps.commands.models import ChargerCommand
from apps.transactions.models import Transaction


class ReservationStatus(models.TextChoices):
    PENDING = "pending", _("Pending (sent, no answer yet)")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    FAULTED = "faulted", _("Faulted")
    OCCUPIED = "occupied", _("Occupied")
    UNAVAILABLE = "unavailable", _("Unavailable")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    USED = "used", _("Used")


# A reservation in one of these holds its connector.
ACTIVE_STATUSES = (ReservationStatus.PENDING, ReservationStatus.ACCEPTED)


class Reservation(models.Model):
    """A connector (2.x: an EVSE) held for one id tag until `expires_at` (ReserveNow)."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="reservations",
        verbose_name=_("station"),
    )
    connector = models.ForeignKey(
        Connector,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reservations",
        help_text=_("Connector 0 reserves any connector of the station. OCPP 2.x: the EVSE id."),
        verbose_name=_("connector"),
    )
    # Sent to the station and quoted back in StartTransaction / TransactionEvent:
    # unguessable, positive 31-bit.
    reservation_id = models.PositiveIntegerField(_("reservation id"), unique=True)
    id_tag = models.CharField(_("id tag"), max_length=36)
    parent_id_tag = models.CharField(_("parent id tag"), max_length=36, blank=True)
    account = models.ForeignKey(
        "energy.EnergyAccount",
        verbose_name=_("energy account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reservations",
    )
    expires_at = models.DateTimeField(_("expires at"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReservationStatus.choices,
        default=ReservationStatus.PENDING,
    )
    command = models.ForeignKey(
        ChargerCommand,
        verbose_name=_("ReserveNow command"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_command = models.ForeignKey(
        ChargerCommand,
        verbose_name=_("CancelReservation command"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reservations",
        verbose_name=_("transaction"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "status", "expires_at"])]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")

    def __str__(self) -> str:
        return f"reservation {self.reservation_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
