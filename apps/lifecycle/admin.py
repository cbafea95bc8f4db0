from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin_mixins import RecordAdminMixin
from apps.lifecycle.models import UpdatePolicy, Upgrade
from apps.lifecycle.services import channel_set


@admin.register(UpdatePolicy)
class UpdatePolicyAdmin(admin.ModelAdmin):
    list_display = ["channel", "changed_at", "changed_by"]
    fields = ["channel", "changed_at", "changed_by"]
    readonly_fields = ["changed_at", "changed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row, made by the first migrate

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: UpdatePolicy, form: Any, change: bool) -> None:
        # Through the service: the beat job follows the channel.
        channel_set(channel=obj.channel, by=request.user.get_username())


@admin.register(Upgrade)
class UpgradeAdmin(RecordAdminMixin, admin.ModelAdmin):
    """The version history: read-only, each attempt with its log."""

    list_display = [
        "started_at",
        "result",
        "from_version",
        "to_version",
        "channel",
        "started_by",
        "finished_at",
    ]
    list_filter = ["result", "channel"]
    search_fields = ["from_version", "to_version", "from_commit", "to_commit", "detail"]
    date_hierarchy = "started_at"
    fields = [
        "result",
        "detail",
        "channel",
        "started_by",
        "from_version",
        "from_commit",
        "to_ref",
        "to_version",
        "to_commit",
        "started_at",
        "finished_at",
        "log_text",
    ]
    readonly_fields = fields

    @admin.display(description=_("log"))
    def log_text(self, obj: Upgrade) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.log)
