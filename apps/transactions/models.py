from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation, Connector
from apps.rfid.models import IdTag


class Transaction(models.Model):
    """A charging session on one connector."""

    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("station"),
    )
    connector = models.ForeignKey(
        Connector,
        on_delete=models.PROTECT,
        null=True,
        related_name="transactions",
        verbose_name=_("connector"),
    )
    # 1.6: the positive 31-bit id we assign; 2.x: the station's own transactionId.
    transaction_id = models.CharField(_("transaction id"), max_length=36)
    id_tag = models.CharField(_("id tag"), max_length=36, blank=True)
    id_tag_ref = models.ForeignKey(
        IdTag,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transactions",
        verbose_name=_("id tag record"),
    )
    authorization_status = models.CharField(
        max_length=16, blank=True, verbose_name=_("authorization status")
    )
    # Why the id tag was refused when its energy account refused it (blocked, no credit).
    authorization_reason = models.CharField(_("authorization reason"), max_length=200, blank=True)
    reservation_id = models.IntegerField(null=True, blank=True, verbose_name=_("reservation id"))
    meter_start_wh = models.BigIntegerField(_("meter start (Wh)"), null=True, blank=True)
    meter_stop_wh = models.BigIntegerField(_("meter stop (Wh)"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"))
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    stop_reason = models.CharField(_("stop reason"), max_length=32, blank=True)
    stop_id_tag = models.CharField(_("stopped by id tag"), max_length=36, blank=True)
    # OCPP 2.x TransactionEvent state.
    charging_state = models.CharField(_("charging state"), max_length=20, blank=True)
    remote_start_id = models.IntegerField(_("remote start id"), null=True, blank=True)
    offline = models.BooleanField(
        _("offline events"), default=False, help_text=_("Some events were sent after the fact.")
    )
    last_seq_no = models.IntegerField(null=True, blank=True, verbose_name=_("last sequence number"))
    # Billing (apps.energy): the account charged, the tariff version used, the cost (gross,
    # in the tariff's currency) once known. All nullable: the message path inserts without them.
    account = models.ForeignKey(
        "energy.EnergyAccount",
        verbose_name=_("energy account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
    )
    tariff = models.ForeignKey(
        "energy.Tariff",
        verbose_name=_("tariff"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
    )
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "transaction_id"], name="transaction_id_unique_per_station"
            )
        ]
        indexes = [models.Index(fields=["station", "stopped_at"])]

    def __str__(self) -> str:
        return f"{self.station.charger_id} tx {self.transaction_id}"

    def get_absolute_url(self) -> str:
        return reverse("admin:transactions_transaction_change", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None

    @property
    def seq_gaps(self) -> list[int]:
        """Return the sequence numbers missing between the events received (OCPP 2.x)."""
        seen = sorted(self.events.values_list("seq_no", flat=True))
        if not seen:
            return []
        return sorted(set(range(seen[0], seen[-1] + 1)) - set(seen))

    @property
    def energy_wh(self) -> int | None:
        """Return the energy delivered, from the meter readings at start and stop."""
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


class TransactionEvent(models.Model):
    """One OCPP 2.x TransactionEvent as received, kept once.

    An event is its sequence number, type, time and trigger: a frame equal in all four is a
    replay. Some stations repeat a sequence number for different events (seqNo 0 on every
    event); those are all kept.
    """

    # Indexed by the unique (transaction, seq_no, ...) constraint.
    transaction = models.ForeignKey(
        Transaction, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq_no = models.IntegerField()
    event_type = models.CharField(max_length=8)
    trigger_reason = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    offline = models.BooleanField(default=False)
    charging_state = models.CharField(max_length=20, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("transaction event")
        verbose_name_plural = _("transaction events")
        ordering = ["seq_no", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "seq_no", "event_type", "trigger_reason", "timestamp"],
                name="transaction_event_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq_no}"


class MeterValue(models.Model):
    """One sampled value as the station reported it, with its value normalised (Wh, W, ...)."""

    # No index of their own: the unique sample constraint starts with the station and the
    # (transaction, timestamp) index with the transaction; more indexes only slow each insert.
    station = models.ForeignKey(
        ChargingStation,
        on_delete=models.CASCADE,
        related_name="meter_values",
        db_index=False,
        verbose_name=_("station"),
    )
    connector_id = models.PositiveIntegerField(verbose_name=_("connector id"))
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="meter_values",
        db_index=False,
        verbose_name=_("transaction"),
    )
    timestamp = models.DateTimeField(verbose_name=_("timestamp"))
    measurand = models.CharField(
        max_length=64, default="Energy.Active.Import.Register", verbose_name=_("measurand")
    )
    phase = models.CharField(max_length=8, blank=True, verbose_name=_("phase"))
    unit = models.CharField(max_length=16, blank=True, verbose_name=_("unit"))
    context = models.CharField(max_length=32, blank=True, verbose_name=_("context"))
    location = models.CharField(max_length=16, blank=True, verbose_name=_("location"))
    format = models.CharField(max_length=16, blank=True, verbose_name=_("format"))
    value = models.TextField(verbose_name=_("value"))
    multiplier = models.SmallIntegerField(
        default=0,
        help_text=_("OCPP 2.x: value times 10 to the power n."),
        verbose_name=_("multiplier"),
    )
    normalized_value = models.FloatField(null=True, blank=True, verbose_name=_("normalized value"))
    normalized_unit = models.CharField(max_length=16, blank=True, verbose_name=_("normalized unit"))

    class Meta:
        verbose_name = _("meter value")
        verbose_name_plural = _("meter values")
        ordering = ["timestamp"]
        constraints = [
            # A replayed MeterValues (no ack seen before a reconnect) must not add rows.
            models.UniqueConstraint(
                fields=[
                    "station",
                    "connector_id",
                    "timestamp",
                    "measurand",
                    "phase",
                    "location",
                    "context",
                ],
                name="meter_value_unique_sample",
            )
        ]
        indexes = [models.Index(fields=["transaction", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.measurand} {self.value}{self.unit}"
