from __future__ import annotations

from django.contrib import admin

from apps.rfid.models import IdTag


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    list_display = [
        "id_tag",
        "label",
        "token_type",
        "status",
        "expiry_date",
        "parent",
        "in_local_list",
    ]
    list_filter = ["status", "token_type", "in_local_list"]
    search_fields = ["id_tag", "label"]
    autocomplete_fields = ["parent"]
    list_select_related = ["parent"]
