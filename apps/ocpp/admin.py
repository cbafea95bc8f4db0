from __future__ import annotations

from django.contrib import admin

from apps.ocpp.models import MessageLog


@admin.register(MessageLog)
class MessageLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "charger_id", "direction", "message_type", "action", "message_id"]
    list_filter = ["direction", "action", "message_type"]
    search_fields = ["charger_id", "message_id", "action"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "charger_id",
        "direction",
        "message_type",
        "message_id",
        "action",
        "frame",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
