from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from apps.simulator.models import Simulator
from apps.simulator.selectors import simulator_prefix_free, simulator_station_ids
from apps.simulator.services import SimulatorError, simulator_start, simulator_stop

COUNTER_LABELS = {
    "chargers": _("chargers"),
    "connected": _("connected now"),
    "booted": _("booted now"),
    "connections": _("connections"),
    "boots": _("boots"),
    "sessions_started": _("sessions started"),
    "sessions_stopped": _("sessions stopped"),
    "messages_sent": _("messages sent"),
    "messages_received": _("messages received"),
    "commands": _("commands answered"),
    "certificate_requests": _("certificate signing requests sent"),
    "certificates_signed": _("station certificates received"),
    "errors": _("errors"),
}
STATIONS_SHOWN = 20
# Counters that say what is so now: none of it while the fleet does not run.
LIVE_COUNTERS = ("connected", "booted")


@admin.register(Simulator)
class SimulatorAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "ocpp_version",
        "charger_count",
        "mode",
        "status",
        "started_at",
        "summary",
        "problem",
    ]
    list_filter = ["status", "ocpp_version", "mode"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "status",
        "started_at",
        "stopped_at",
        "reported_at",
        "last_error",
        "counters_table",
        "stations_created",
    ]
    fieldsets = [
        (None, {"fields": ["name", "ocpp_version", "charger_count", "prefix", "connectors"]}),
        (
            _("Behaviour"),
            {"fields": ["mode", "meter_interval", "session_duration", "id_tag"]},
        ),
        (_("Connection"), {"fields": ["url", "password", "register_stations"]}),
        (_("Certificates"), {"fields": ["request_certificate", "organization"]}),
        (
            _("State"),
            {
                "fields": [
                    "status",
                    "started_at",
                    "stopped_at",
                    "reported_at",
                    "last_error",
                    "counters_table",
                    "stations_created",
                ]
            },
        ),
    ]
    actions = ["start_simulators", "stop_simulators"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A prefix of its own: registering must not meet stations something else runs.
        return {"prefix": simulator_prefix_free(), **super().get_changeform_initial_data(request)}

    @admin.display(description=_("progress"))
    def summary(self, obj: Simulator) -> str:
        c = obj.counters or {}
        if not c:
            return "—"
        # Connected chargers exist only while the fleet runs: a stopped row's last report
        # (say, from a process killed meanwhile) is no live figure.
        running = obj.status == Simulator.Status.RUNNING
        return _(
            "%(connected)s/%(chargers)s connected, %(started)s sessions, "
            "%(sent)s messages, %(errors)s errors"
        ) % {
            "connected": c.get("connected", 0) if running else 0,
            "chargers": c.get("chargers", obj.charger_count),
            "started": c.get("sessions_started", 0),
            "sent": c.get("messages_sent", 0),
            "errors": c.get("errors", 0),
        }

    @admin.display(description=_("last error"))
    def problem(self, obj: Simulator) -> str:
        # Why it is not running (a refused start, a failed fleet), or what went wrong last.
        return Truncator(obj.last_error).chars(200) if obj.last_error else "—"

    @admin.display(description=_("stations it created"))
    def stations_created(self, obj: Simulator) -> str:
        # Registering changes these and no other station (docs/simulator.md).
        ids = simulator_station_ids(simulator=obj)
        if not ids:
            return "—"
        shown = ", ".join(ids[:STATIONS_SHOWN])
        return shown + (f" (+{len(ids) - STATIONS_SHOWN})" if len(ids) > STATIONS_SHOWN else "")

    @admin.display(description=_("counters"))
    def counters_table(self, obj: Simulator) -> str:
        counters = dict(obj.counters or {})
        if obj.status != Simulator.Status.RUNNING:
            counters.update({key: 0 for key in LIVE_COUNTERS})
        return format_html_join(
            "",
            "<div>{}: <b>{}</b></div>",
            ((label, counters.get(key, 0)) for key, label in COUNTER_LABELS.items()),
        )

    @admin.action(description=_("Start selected simulators"), permissions=["change"])
    def start_simulators(self, request: HttpRequest, queryset: QuerySet[Simulator]) -> None:
        for simulator in queryset:
            try:
                simulator_start(simulator=simulator, request=request)
            except SimulatorError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(
                    request,
                    _("%(name)s started: %(count)d chargers.")
                    % {"name": simulator, "count": simulator.charger_count},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Stop selected simulators"), permissions=["change"])
    def stop_simulators(self, request: HttpRequest, queryset: QuerySet[Simulator]) -> None:
        for simulator in queryset:
            simulator = simulator_stop(simulator=simulator)
            self.message_user(
                request,
                _("%(name)s stopped.") % {"name": simulator},
                messages.SUCCESS,
            )
