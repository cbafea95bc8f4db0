"""The station page of the control center: identity, operations, passwords, message log.

It sits in the dashboard (the top interface app) because it uses every app below it: the
operations registry (commands), password services (security), the message log (ocpp) and
the configuration (devicemodel). URLs and names stay the chargers model's
(`admin:chargers_chargingstation_change`, `..._command`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from apps.chargers.admin import ConnectorInline
from apps.chargers.models import ChargingStation, Connector, RegistrationStatus
from apps.chargers.scoped import SiteScopedAdminMixin
from apps.chargers.services import station_set_registration
from apps.commands.models import ChargerCommand
from apps.commands.registry import operation_named
from apps.commands.services import command_wait
from apps.core.display import time_seconds
from apps.dashboard import bulk_commands as bulk
from apps.dashboard.labels import CONNECTOR_STATUSES
from apps.dashboard.station_commands import OperationPage, command_outcome, operation_links
from apps.devicemodel.selectors import station_configuration
from apps.maintenance.services import public_base_url
from apps.ocpp.selectors import message_log_recent
from apps.security.services import station_password_rotate, station_password_set

# The station page's tabs, in order: (key, label). Sections carry "cc-tab-<key>".
STATION_TABS = [
    ("overview", _("Overview")),
    ("connectors", _("Connectors")),
    ("sessions", _("Sessions")),
    ("commands", _("Commands")),
    ("configuration", _("Configuration")),
    ("firmware", _("Firmware & logs")),
    ("log", _("Message log")),
]

# Seconds between refreshes of a bulk command's results page while answers are awaited.
BULK_REFRESH_S = 2

# How many of the station's latest commands its page lists.
COMMAND_HISTORY_LENGTH = 20


# The station page's read-only sections: what the station itself reports.
IDENTITY_FIELDS = [
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
CONNECTION_FIELDS = [
    "is_connected",
    "connected_at",
    "disconnected_at",
    "last_boot_at",
    "last_heartbeat_at",
    "last_seen_at",
]
FIRMWARE_FIELDS = [
    "firmware_status",
    "firmware_status_at",
    "diagnostics_status",
    "diagnostics_status_at",
    "created_at",
]


class StationConnectorInline(ConnectorInline):
    """The station page's connectors, their statuses in the operator's words."""

    fields = [
        "connector_id",
        "status_word",
        "error_code",
        "info",
        "vendor_error_code",
        "status_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("status"))
    def status_word(self, connector: Connector) -> str:
        # A status OCPP does not list (a vendor's) is shown as the station sent it.
        return str(CONNECTOR_STATUSES.get(connector.status, connector.status or "-"))


@admin.register(ChargingStation)
class ChargingStationAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    station_path = ""  # the model is the station (sites: apps/chargers/tenancy.py)
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
    list_filter = ["site", "registration_status", "is_connected", "ocpp_version", "vendor"]
    search_fields = ["charger_id", "name", "serial_number", "charge_box_serial_number"]
    # What the station reports is shown, never edited here.
    readonly_fields = [
        *IDENTITY_FIELDS,
        *CONNECTION_FIELDS,
        *FIRMWARE_FIELDS,
        "password_state",
        "message_log_link",
    ]
    # Each section names its tab of the station page (class "cc-tab-<tab>", see STATION_TABS).
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "charger_id",
                    "name",
                    "site",
                    "registration_status",
                    "free_charging",
                    "preferred_ocpp_version",
                    "heartbeat_interval",
                ],
                "classes": ["cc-tab-overview"],
            },
        ),
        (
            _("Connection"),
            {"fields": CONNECTION_FIELDS, "classes": ["cc-tab-overview"]},
        ),
        (
            _("Security"),
            {
                "fields": ["security_profile", "password_state"],
                "description": _(
                    "Use the actions of the station list to generate a password (shown once) "
                    "or to rotate it on a connected station."
                ),
                "classes": ["cc-tab-overview", "collapse"],
            },
        ),
        (
            _("Identity"),
            {"fields": IDENTITY_FIELDS, "classes": ["cc-tab-overview", "collapse"]},
        ),
        (
            _("Firmware and diagnostics"),
            {"fields": FIRMWARE_FIELDS, "classes": ["cc-tab-firmware"]},
        ),
        (
            _("Message log"),
            {"fields": ["message_log_link"], "classes": ["cc-tab-log"]},
        ),
    ]
    inlines = [StationConnectorInline]
    actions = ["send_command", "approve", "reject", "generate_password", "rotate_password"]
    change_form_template = "admin/chargers/chargingstation/change_form.html"
    command_form_template = "admin/chargers/chargingstation/command_form.html"
    # Seconds the admin waits for a connected station's answer before showing the page.
    command_wait_s = 5.0

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<path:object_id>/command/<str:name>/",
                self.admin_site.admin_view(self.command_view),
                name="chargers_chargingstation_command",
            ),
            path(
                "bulk-results/",
                self.admin_site.admin_view(self.bulk_results_view),
                name="chargers_chargingstation_bulk_results",
            ),
        ]
        return urls + super().get_urls()

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ChargingStation | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self._station_panels(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _station_panels(self, request: HttpRequest, station: ChargingStation) -> dict[str, Any]:
        can_command = self._can_command(request, station)
        return {
            "operation_links": operation_links(station) if can_command else [],
            "command_history": list(
                ChargerCommand.objects.filter(station=station)
                .select_related("requested_by")
                .order_by("-created_at", "-id")[:COMMAND_HISTORY_LENGTH]
            ),
            "command_history_url": reverse("admin:commands_chargercommand_changelist")
            + "?"
            + urlencode({"station__id__exact": station.pk}),
            "configuration_keys": station_configuration(station=station),
            "queue_offline_commands": settings.OCPP_QUEUE_OFFLINE_COMMANDS,
            "station_tabs": STATION_TABS,
        }

    def command_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """Show the form of one operation for a station and send it."""
        station = self.get_object(request, unquote(object_id))
        if station is None:
            raise Http404(_("No charging station with id %(id)s.") % {"id": object_id})
        if not self._can_command(request, station):
            raise PermissionDenied
        try:
            page = OperationPage(request, station, name)
        except LookupError:
            raise Http404(
                _("%(action)s is not a command for this station.") % {"action": name}
            ) from None
        command = page.send(requested_by=request.user, base_url=public_base_url(request=request))
        if command is not None:
            self._report(request, station, command)
            # Back to the station's commands tab, where the history shows the answer.
            return HttpResponseRedirect(
                reverse("admin:chargers_chargingstation_change", args=[station.pk])
                + "#tab-commands"
            )
        label = page.operation.label
        context = {
            **self.admin_site.each_context(request),
            "title": _("%(action)s · station %(station)s")
            % {"action": label, "station": station.charger_id},
            "subtitle": station.charger_id,
            "opts": self.opts,
            "original": station,
            "operation": page.operation,
            "action": label,
            "form": page.form,
            "raw_form": page.raw_form,
            "raw_open": page.raw,
            "media": self.media + page.form.media,
            "has_view_permission": self.has_view_permission(request, station),
            "queue_offline_commands": settings.OCPP_QUEUE_OFFLINE_COMMANDS,
        }
        return TemplateResponse(request, self.command_form_template, context)

    def has_command_permission(self, request: HttpRequest) -> bool:
        """Whether the operator may send commands to stations (the bulk action's permission)."""
        return self.has_change_permission(request) and request.user.has_perm(
            "commands.add_chargercommand"
        )

    @admin.action(description=_("Send a command to the selected stations"), permissions=["command"])
    def send_command(
        self, request: HttpRequest, queryset: QuerySet[ChargingStation]
    ) -> HttpResponse | None:
        """Pick an operation and its parameters once; send it to each selected station."""
        stations = list(bulk.bulk_stations(queryset).order_by("charger_id"))
        operations = bulk.bulk_operations(stations)
        if not operations:
            self.message_user(
                request, _("No operation is offered to all the selected stations."), messages.ERROR
            )
            return None
        choose = bulk.ChooseOperationForm(
            request.POST if "operation" in request.POST else None, operations=operations
        )
        operation = operation_named(choose.cleaned_data["operation"]) if choose.is_valid() else None
        form = None
        if operation is not None:
            sending = "_send" in request.POST
            form = operation.form(
                request.POST if sending else None,
                station=stations[0],
                user=request.user,
                prefix=bulk.PREFIX,
            )
            if sending:
                outcomes = bulk.bulk_send(
                    stations=stations,
                    operation=operation,
                    data=request.POST,
                    requested_by=request.user,
                    base_url=public_base_url(request=request),
                )
                for outcome in outcomes:
                    if outcome.command is None:
                        self.message_user(
                            request,
                            _("Station %(station)s: not sent: %(error)s")
                            % {"station": outcome.station.charger_id, "error": outcome.error},
                            messages.ERROR,
                        )
                commands = [o.command for o in outcomes if o.command is not None]
                bulk.bulk_wait(commands)
                if not commands:
                    return None
                return HttpResponseRedirect(
                    reverse("admin:chargers_chargingstation_bulk_results")
                    + "?"
                    + urlencode({"commands": ",".join(str(c.pk) for c in commands)})
                )
        return TemplateResponse(
            request,
            "admin/chargers/chargingstation/bulk_command.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Send a command to %(count)d stations") % {"count": len(stations)},
                "opts": self.opts,
                "stations": stations,
                "choose": choose,
                "operation": operation,
                "form": form,
                "media": self.media + (form.media if form is not None else forms.Media()),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def bulk_results_view(self, request: HttpRequest) -> HttpResponse:
        """Show each station's outcome of a bulk command; refresh until all have answered."""
        if not self.has_command_permission(request):
            raise PermissionDenied
        commands = bulk.bulk_results(
            bulk.parse_ids(request.GET.get("commands", "")), user=request.user
        )
        waiting = any(not command.is_final for command in commands)
        return TemplateResponse(
            request,
            "admin/chargers/chargingstation/bulk_results.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Command results"),
                "opts": self.opts,
                "commands": commands,
                "waiting": waiting,
                "refresh_s": BULK_REFRESH_S,
            },
        )

    def _can_command(self, request: HttpRequest, station: ChargingStation) -> bool:
        # The same permission the API asks for sending a command, on a station one may change.
        return self.has_change_permission(request, station) and request.user.has_perm(
            "commands.add_chargercommand"
        )

    def _report(
        self, request: HttpRequest, station: ChargingStation, command: ChargerCommand
    ) -> None:
        station.refresh_from_db(fields=["is_connected"])
        if not command.is_final and station.is_connected:
            command = command_wait(command=command, wait_s=self.command_wait_s)
        level, text = command_outcome(command)
        self.message_user(request, text, level)

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
                    time_seconds(entry.created_at),
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

    @admin.display(description=_("password"))
    def password_state(self, obj: ChargingStation) -> str:
        if obj.pending_password_hash:
            return _("set %(when)s; a new one was sent to the station, waiting for it") % {
                "when": obj.password_set_at
            }
        if obj.password_hash:
            return _("set %(when)s") % {"when": obj.password_set_at}
        return _("none")

    @admin.action(
        description=_("Generate a new password (shown once; configure the station with it)"),
        permissions=["change"],
    )
    def generate_password(
        self, request: HttpRequest, queryset: QuerySet[ChargingStation]
    ) -> TemplateResponse:
        """Set new passwords and show them on the answer page itself, once.

        Not as admin messages: those travel in a cookie, signed but readable by anyone
        holding it, and stay in the browser after the page is gone.
        """
        passwords = [(station, station_password_set(station=station)) for station in queryset]
        response = TemplateResponse(
            request,
            "admin/chargers/chargingstation/new_passwords.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("New passwords"),
                "passwords": passwords,
            },
        )
        add_never_cache_headers(response)
        return response

    @admin.action(
        description=_("Rotate the password and send it to the station"), permissions=["change"]
    )
    def rotate_password(self, request: HttpRequest, queryset: QuerySet[ChargingStation]) -> None:
        for station in queryset:
            try:
                command = station_password_rotate(
                    station=station, requested_by=request.user, source="admin"
                )
            except ValueError as exc:
                self.message_user(request, f"{station}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                _(
                    "%(station)s: new password sent (%(status)s); it takes over when the station "
                    "accepts it."
                )
                % {"station": station, "status": command.get_status_display()},
                messages.INFO,
            )

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
