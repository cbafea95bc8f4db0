from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import ChargingStation


class DeviceVariable(models.Model):
    """One attribute of a component's variable in an OCPP 2.x station's device model.

    `evse_id`/`connector_id` 0 mean the component belongs to no EVSE/connector.
    """

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="device_variables"
    )
    component = models.CharField(_("component"), max_length=50)
    component_instance = models.CharField(_("component instance"), max_length=50, blank=True)
    evse_id = models.PositiveIntegerField(_("EVSE"), default=0)
    connector_id = models.PositiveIntegerField(_("connector"), default=0)
    variable = models.CharField(_("variable"), max_length=50)
    variable_instance = models.CharField(_("variable instance"), max_length=50, blank=True)
    attribute_type = models.CharField(_("attribute"), max_length=8, default="Actual")
    value = models.TextField(_("value"), null=True, blank=True)
    mutability = models.CharField(_("mutability"), max_length=10, blank=True)
    persistent = models.BooleanField(null=True, blank=True)
    constant = models.BooleanField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    data_type = models.CharField(max_length=20, blank=True)
    min_limit = models.FloatField(null=True, blank=True)
    max_limit = models.FloatField(null=True, blank=True)
    values_list = models.TextField(blank=True)
    supports_monitoring = models.BooleanField(null=True, blank=True)
    last_status = models.CharField(
        _("last get/set status"),
        max_length=32,
        blank=True,
        help_text=_("Status of the last GetVariables/SetVariables for this attribute."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("device model variable")
        verbose_name_plural = _("device model variables")
        ordering = [
            "station",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
        ]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "station",
                    "component",
                    "component_instance",
                    "evse_id",
                    "connector_id",
                    "variable",
                    "variable_instance",
                    "attribute_type",
                ],
                name="device_variable_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.path}={self.value}"

    @property
    def path(self) -> str:
        """Return `Component[instance][@evse.connector]/Variable[instance][:Type]`."""
        component = self.component + (
            f"[{self.component_instance}]" if self.component_instance else ""
        )
        if self.evse_id:
            component += f"@{self.evse_id}" + (f".{self.connector_id}" if self.connector_id else "")
        variable = self.variable + (f"[{self.variable_instance}]" if self.variable_instance else "")
        suffix = "" if self.attribute_type == "Actual" else f":{self.attribute_type}"
        return f"{component}/{variable}{suffix}"


class DeviceReport(models.Model):
    """A (multi-part) NotifyReport, assembled by request id and sequence numbers."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="device_reports"
    )
    request_id = models.IntegerField()
    generated_at = models.DateTimeField(null=True, blank=True)
    last_seq_no = models.IntegerField(
        null=True, blank=True, help_text=_("Sequence number of the part with tbc false.")
    )
    complete = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("device model report")
        verbose_name_plural = _("device model reports")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "request_id"], name="device_report_unique_request"
            )
        ]

    def __str__(self) -> str:
        return f"report {self.request_id}"


class ReportPart(models.Model):
    report = models.ForeignKey(DeviceReport, on_delete=models.CASCADE, related_name="parts")
    seq_no = models.IntegerField()
    tbc = models.BooleanField(default=False)
    items = models.PositiveIntegerField(default=0)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("report part")
        verbose_name_plural = _("report parts")
        ordering = ["seq_no"]
        constraints = [
            models.UniqueConstraint(fields=["report", "seq_no"], name="report_part_unique")
        ]

    def __str__(self) -> str:
        return f"part {self.seq_no}"


class DeviceEvent(models.Model):
    """One eventData entry of a NotifyEvent, kept whole."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="device_events"
    )
    event_id = models.IntegerField()
    timestamp = models.DateTimeField()
    trigger = models.CharField(max_length=16)
    event_notification_type = models.CharField(max_length=32, blank=True)
    component = models.CharField(max_length=50)
    variable = models.CharField(max_length=50)
    actual_value = models.TextField(blank=True)
    tech_code = models.CharField(max_length=50, blank=True)
    tech_info = models.TextField(blank=True)
    cleared = models.BooleanField(null=True, blank=True)
    data = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        ordering = ["-timestamp"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "event_id", "timestamp"], name="device_event_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}/{self.variable} {self.trigger}"
