from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.commands.answers import answer_summary, answer_table
from apps.commands.models import ChargerCommand


def _pretty(value: Any) -> str:
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(ChargerCommand)
class ChargerCommandAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """Every command sent to a charger, whoever sent it: a read-only audit trail."""

    list_display = [
        "id",
        "station",
        "action",
        "status",
        "source",
        "requested_by",
        "created_at",
        "completed_at",
        "outcome",
    ]
    list_filter = ["status", "action", "source"]
    list_select_related = ["station", "requested_by"]
    search_fields = ["station__charger_id", "message_id"]
    raw_id_fields = ["station", "requested_by"]
    date_hierarchy = "created_at"
    fields = [
        "station",
        "action",
        "status",
        "source",
        "requested_by",
        "payload_json",
        "response_json",
        "error_code",
        "error_description",
        "message_id",
        "timeout_s",
        "created_at",
        "sent_at",
        "completed_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("payload"))
    def payload_json(self, obj: ChargerCommand) -> str:
        return _pretty(obj.payload)

    @admin.display(description=_("response"))
    def response_json(self, obj: ChargerCommand) -> str:
        """Show a list answer as a table (configuration keys, variables), the JSON below it."""
        table = answer_table(obj)
        if table is None:
            return _pretty(obj.response)
        head = format_html_join("", "<th>{}</th>", ((header,) for header in table.headers))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),)
                for row in table.rows
            ),
        )
        return format_html(
            '<table class="answer-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
            "<details><summary>{}</summary>{}</details>",
            head,
            body,
            _("The answer as the station sent it (JSON)"),
            _pretty(obj.response),
        )

    @admin.display(description=_("outcome"))
    def outcome(self, obj: ChargerCommand) -> str:
        return Truncator(answer_summary(obj)).chars(120)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Commands are sent from the station page or the API, never typed in as rows.
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ChargerCommand | None = None
    ) -> bool:
        return False
