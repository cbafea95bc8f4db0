"""Admin of the chargers app's own records: status events, reports, data transfers.

The station page itself (ChargingStationAdmin: operations, passwords, message log) is the
control center's, in apps/dashboard/station_admin.py: it uses apps above chargers.
"""

from __future__ import annotations

from django.contrib import admin

from apps.chargers.models import Connector, DataTransfer, Site, StationReport, StatusEvent
from apps.core.admin_mixins import RecordAdminMixin


class ConnectorInline(RecordAdminMixin, admin.TabularInline):
    """The station's connectors as it reports them: created by its messages, never by hand."""

    model = Connector
    extra = 0
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "status_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(StatusEvent)
class StatusEventAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Statuses as the stations reported them: read-only for everyone."""

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


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "time_zone", "created_at"]
    search_fields = ["name", "address"]
