from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import (
    ChargingStation,
    Connector,
    DataTransfer,
    RegistrationStatus,
    StationReport,
    StatusEvent,
)
from apps.chargers.services import station_set_registration
from apps.ocpp.selectors import message_log_recent


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "status_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(ChargingStation)
class ChargingStationAdmin(admin.ModelAdmin):
    list_display = [
        "charger_id",
        "name",
        "registration_status",
        "is_connected",
        "ocpp_version",
        "vendor",
        "model",
        "firmware_version",
        "last_seen_at",
    ]
    list_filter = ["registration_status", "is_connected", "ocpp_version", "vendor"]
    search_fields = ["charger_id", "name", "serial_number", "charge_box_serial_number"]
    readonly_fields = [
        "ocpp_version",
        "vendor",
        "model",
        "serial_number",
        "charge_box_serial_number",
        "firmware_version",
        "iccid",
        "imsi",
        "meter_type",
        "meter_serial_number",
        "is_connected",
        "connected_at",
        "disconnected_at",
        "last_boot_at",
        "last_heartbeat_at",
        "last_seen_at",
        "firmware_status",
        "firmware_status_at",
        "diagnostics_status",
        "diagnostics_status_at",
        "created_at",
        "message_log_link",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "charger_id",
                    "name",
                    "registration_status",
                    "free_charging",
                    "preferred_ocpp_version",
                ]
            },
        ),
        (
            _("Identity"),
            {
                "fields": [
                    "ocpp_version",
                    "vendor",
                    "model",
                    "serial_number",
                    "charge_box_serial_number",
                    "firmware_version",
                    "iccid",
                    "imsi",
                    "meter_type",
                    "meter_serial_number",
                ]
            },
        ),
        (
            _("Connection"),
            {
                "fields": [
                    "is_connected",
                    "connected_at",
                    "disconnected_at",
                    "last_boot_at",
                    "last_heartbeat_at",
                    "last_seen_at",
                    "message_log_link",
                ]
            },
        ),
        (
            _("Firmware and diagnostics"),
            {
                "fields": [
                    "firmware_status",
                    "firmware_status_at",
                    "diagnostics_status",
                    "diagnostics_status_at",
                    "created_at",
                ]
            },
        ),
    ]
    inlines = [ConnectorInline]
    actions = ["approve", "reject"]

    @admin.display(description=_("message log"))
    def message_log_link(self, obj: ChargingStation) -> str:
        url = (
            reverse("admin:ocpp_messagelog_changelist")
            + "?"
            + urlencode({"charger_id": obj.charger_id})
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    entry.get_direction_display(),
                    Truncator(entry.frame).chars(160),
                )
                for entry in message_log_recent(charger_id=obj.charger_id, limit=20)
            ),
        )
        return format_html(
            '<a href="{}">{}</a><table class="message-log">{}</table>',
            url,
            _("All frames in and out"),
            rows,
        )

    @admin.action(description=_("Approve selected stations (Accepted at next boot)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[ChargingStation]) -> None:
        self._set_registration(request, queryset, RegistrationStatus.ACCEPTED)

    @admin.action(description=_("Reject selected stations"))
    def reject(self, request: HttpRequest, queryset: QuerySet[ChargingStation]) -> None:
        self._set_registration(request, queryset, RegistrationStatus.REJECTED)

    def _set_registration(
        self, request: HttpRequest, queryset: QuerySet[ChargingStation], status: str
    ) -> None:
        for station in queryset:
            station_set_registration(station=station, status=status)
        self.message_user(
            request,
            _("%(count)d station(s) set to %(status)s.")
            % {"count": queryset.count(), "status": status},
            messages.SUCCESS,
        )


@admin.register(StatusEvent)
class StatusEventAdmin(admin.ModelAdmin):
    list_display = [
        "station",
        "connector_id",
        "status",
        "error_code",
        "info",
        "timestamp",
        "received_at",
    ]
    list_filter = ["status", "error_code"]
    list_select_related = ["station"]
    search_fields = ["station__charger_id"]
    raw_id_fields = ["station"]


@admin.register(StationReport)
class StationReportAdmin(admin.ModelAdmin):
    list_display = ["station", "kind", "status", "received_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["station"]
    raw_id_fields = ["station"]


@admin.register(DataTransfer)
class DataTransferAdmin(admin.ModelAdmin):
    list_display = ["station", "direction", "vendor_id", "message_id", "status", "created_at"]
    list_filter = ["direction", "status", "vendor_id"]
    list_select_related = ["station"]
    search_fields = ["station__charger_id", "vendor_id", "message_id"]
    raw_id_fields = ["station"]
