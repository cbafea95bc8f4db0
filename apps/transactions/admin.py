from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.transactions.models import MeterValue, Transaction


class MeterValueInline(admin.TabularInline):
    model = MeterValue
    extra = 0
    fields = [
        "timestamp",
        "measurand",
        "phase",
        "value",
        "unit",
        "normalized_value",
        "normalized_unit",
        "context",
        "location",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = [
        "transaction_id",
        "station",
        "connector",
        "id_tag",
        "started_at",
        "stopped_at",
        "energy_display",
        "stop_reason",
    ]
    list_filter = ["stop_reason", "station"]
    list_select_related = ["station", "connector"]
    search_fields = ["transaction_id", "id_tag", "station__charger_id"]
    raw_id_fields = ["station", "connector", "id_tag_ref"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MeterValueInline]

    @admin.display(description=_("energy (Wh)"))
    def energy_display(self, obj: Transaction) -> int | None:
        return obj.energy_wh


@admin.register(MeterValue)
class MeterValueAdmin(admin.ModelAdmin):
    list_display = [
        "station",
        "connector_id",
        "transaction",
        "timestamp",
        "measurand",
        "value",
        "unit",
        "normalized_value",
        "normalized_unit",
    ]
    list_filter = ["measurand", "context"]
    list_select_related = ["station", "transaction"]
    raw_id_fields = ["station", "transaction"]
