from __future__ import annotations

from django.contrib import admin

from apps.security.models import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "charger_id", "source", "event_type", "tech_info"]
    list_filter = ["source", "event_type"]
    search_fields = ["charger_id", "event_type", "tech_info"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["station"]
    list_select_related = ["station"]
