"""The OCPP message log: every frame in and out, read-only, each CALL beside its answer."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.chargers.tenancy import stations_visible_to
from apps.core.admin_mixins import RecordAdminMixin
from apps.core.display import time_milliseconds, time_seconds
from apps.ocpp.labels import MESSAGE_TYPES, message_type_label
from apps.ocpp.models import MessageLog
from apps.ocpp.selectors import Counterpart, message_log_counterparts
from apps.protocol import frames

# How many stations the station filter lists (the search box finds any other).
STATION_FILTER_LIMIT = 200


class StationFilter(admin.SimpleListFilter):
    """By station: `?charger_id=` (the station page's links use it too)."""

    title = _("station")
    parameter_name = "charger_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        stations = stations_visible_to(request.user)
        ids = stations.order_by("charger_id").values_list("charger_id", flat=True)
        choices = list(ids[:STATION_FILTER_LIMIT])
        # A charger asked for stays a choice (and its filter applies) even when unlisted:
        # an unknown charger that was refused, or a station beyond the limit.
        if self.value() and self.value() not in choices:
            choices.append(self.value())
        return [(charger_id, charger_id) for charger_id in choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(charger_id=value) if value else queryset


class MessageTypeFilter(admin.SimpleListFilter):
    """By OCPP-J message type, shown by name (CALL, CALLRESULT, ...)."""

    title = _("message type")
    parameter_name = "message_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(number), str(label)) for number, label in MESSAGE_TYPES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        try:
            return queryset.filter(message_type=int(value))
        except ValueError:
            return queryset.none()


class MessageLogChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # One query pairs the page's CALLs and answers; each row keeps its counterpart.
        entries = list(self.result_list)
        counterparts = message_log_counterparts(entries=entries)
        for entry in entries:
            entry.counterpart = counterparts.get(entry.pk)


@admin.register(MessageLog)
class MessageLogAdmin(SiteScopedAdminMixin, RecordAdminMixin, admin.ModelAdmin):
    """Frames as they crossed the socket: nobody adds, changes or deletes them."""

    # The log names its station by charger id (it keeps frames of refused chargers too).
    station_path = "charger_id"
    station_by = "charger_id"

    list_display = [
        "time_display",
        "charger_id",
        "direction",
        "type_display",
        "action",
        "message_id",
        "counterpart_display",
    ]
    list_filter = [StationFilter, "direction", MessageTypeFilter, "action"]
    search_fields = ["charger_id", "message_id", "action"]
    date_hierarchy = "created_at"
    fields = [
        "time_detail",
        "charger_id",
        "direction",
        "type_display",
        "action",
        "message_id",
        "counterpart_detail",
        "frame_display",
    ]
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return MessageLogChangeList

    @admin.display(description=_("time"), ordering="created_at")
    def time_display(self, obj: MessageLog) -> str:
        return time_seconds(obj.created_at)

    @admin.display(description=_("time"))
    def time_detail(self, obj: MessageLog) -> str:
        return time_milliseconds(obj.created_at)

    @admin.display(description=_("type"), ordering="message_type")
    def type_display(self, obj: MessageLog) -> str:
        return message_type_label(obj.message_type)

    @admin.display(description=_("answer / call"))
    def counterpart_display(self, obj: MessageLog) -> str:
        return self._counterpart(obj, getattr(obj, "counterpart", None))

    @admin.display(description=_("answer / call"))
    def counterpart_detail(self, obj: MessageLog) -> str:
        return self._counterpart(obj, message_log_counterparts(entries=[obj]).get(obj.pk))

    def _counterpart(self, obj: MessageLog, counterpart: Counterpart | None) -> str:
        if counterpart is None:
            if obj.message_type == frames.CALL:
                return gettext("no answer")
            return "-"
        url = reverse("admin:ocpp_messagelog_change", args=[counterpart.entry.pk])
        other = counterpart.entry
        if obj.message_type == frames.CALL:
            # A CALL: its answer's type and the round trip.
            return format_html(
                '<a href="{}">{}</a> {}',
                url,
                message_type_label(other.message_type),
                gettext("after %(ms)s ms") % {"ms": counterpart.round_trip_ms},
            )
        # An answer: OCPP-J answers carry no action, the CALL names it.
        return format_html(
            '{} <a href="{}">{} {}</a> {}',
            gettext("answers"),
            url,
            message_type_label(other.message_type),
            other.action or "-",
            gettext("after %(ms)s ms") % {"ms": counterpart.round_trip_ms},
        )

    @admin.display(description=_("frame"))
    def frame_display(self, obj: MessageLog) -> str:
        try:
            text = json.dumps(json.loads(obj.frame), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.frame  # kept as received: a frame that is not JSON
        return format_html('<pre class="cc-frame">{}</pre>', text)
