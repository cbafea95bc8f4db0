from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.commands.answers import answer_summary
from apps.commands.errors import CommandError
from apps.commands.models import CommandStatus
from apps.commands.services import command_wait
from apps.core.admin_mixins import RecordAdminMixin
from apps.core.charts import line_chart
from apps.core.display import time_seconds
from apps.energy.pricing import round_money
from apps.transactions.billing import transaction_running_cost
from apps.transactions.exports import meter_values_csv, transactions_csv
from apps.transactions.labels import duration, kwh, money
from apps.transactions.models import MeterValue, Transaction
from apps.transactions.operations import transaction_request_stop
from apps.transactions.selectors import live_transaction, transaction_series
from apps.transactions.services import TransactionCloseError, transaction_close_manually

# Who may ask a station to stop a session: who may send commands (as on the station page).
STOP_PERMISSION = "commands.add_chargercommand"
# Seconds the Stop button waits for a connected station's answer before showing the page.
STOP_WAIT_S = 5.0

# Who may close a session by hand: the model's change permission (the form stays read-only).
CLOSE_PERMISSION = "transactions.change_transaction"


class ActiveFilter(admin.SimpleListFilter):
    """Running sessions (not stopped yet) or finished ones."""

    title = _("state")
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Active only")), ("no", _("Stopped"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(stopped_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(stopped_at__isnull=False)
        return queryset


class CloseForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the station will not stop these sessions itself; kept in the audit log."),
    )


class MeterValueInline(RecordAdminMixin, admin.TabularInline):
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
    classes = ["collapse"]


@admin.register(Transaction)
class TransactionAdmin(SiteScopedAdminMixin, RecordAdminMixin, admin.ModelAdmin):
    """Transactions as the stations reported them: read-only, with charts and CSV exports.

    The one correction is explicit: *Close manually*, with a reason, audited.
    """

    list_display = [
        "transaction_id",
        "station_display",
        "connector_display",
        "id_tag",
        "started_display",
        "stopped_display",
        "duration_display",
        "energy_display",
        "cost_display",
        "stop_reason",
    ]
    list_filter = [ActiveFilter, "stop_reason", "station"]
    list_select_related = ["station", "connector", "tariff"]
    search_fields = ["transaction_id", "id_tag", "station__charger_id"]
    date_hierarchy = "started_at"
    raw_id_fields = ["station", "connector", "id_tag_ref", "account", "tariff"]
    actions = ["export_csv", "close_manually"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("station", "connector"),
                    ("transaction_id", "id_tag"),
                    ("started_display", "stopped_display"),
                    ("duration_display", "energy_display"),
                    ("meter_start_wh", "meter_stop_wh"),
                    ("stop_reason", "stop_id_tag"),
                    ("authorization_status", "authorization_reason"),
                ]
            },
        ),
        (_("Cost"), {"fields": [("cost_display", "account", "tariff"), "cost_parts"]}),
        (_("Energy and power"), {"fields": ["charts", "meter_values_csv_link"]}),
        (
            _("Details"),
            {
                "fields": [
                    "id_tag_ref",
                    "reservation_id",
                    "charging_state",
                    "remote_start_id",
                    "offline",
                    "last_seq_no",
                    "created_at",
                    "updated_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        "started_display",
        "stopped_display",
        "duration_display",
        "energy_display",
        "cost_display",
        "cost_parts",
        "charts",
        "meter_values_csv_link",
        "created_at",
        "updated_at",
    ]
    inlines = [MeterValueInline]

    def has_close_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CLOSE_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<path:object_id>/meter-values.csv",
                self.admin_site.admin_view(self.meter_values_csv_view),
                name="transactions_transaction_meter_values_csv",
            ),
            path(
                "<path:object_id>/stop/",
                self.admin_site.admin_view(self.stop_view),
                name="transactions_transaction_stop",
            ),
        ]
        return urls + super().get_urls()

    def meter_values_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Download every meter value of one transaction as CSV."""
        transaction = self.get_object(request, unquote(object_id))
        if transaction is None or not self.has_view_permission(request, transaction):
            raise Http404
        return meter_values_csv(transaction)

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(STOP_PERMISSION)

    def get_list_display(self, request: HttpRequest) -> list[str]:
        shown = list(super().get_list_display(request))
        return [*shown, "stop_button"] if self.has_stop_permission(request) else shown

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "may_stop": self.has_stop_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask for confirmation (GET), then ask the station to stop the session (POST)."""
        transaction = self.get_object(request, unquote(object_id))
        if transaction is None or not self.has_view_permission(request, transaction):
            raise Http404
        if not self.has_stop_permission(request):
            raise PermissionDenied
        back = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = ""
        back = back or reverse("admin:transactions_transaction_change", args=[transaction.pk])
        if request.method == "POST":
            try:
                command = transaction_request_stop(
                    transaction=transaction, requested_by=request.user, source="admin"
                )
            except CommandError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(back)
            if not command.is_final and transaction.station.is_connected:
                command = command_wait(command=command, wait_s=STOP_WAIT_S)
            self.message_user(
                request,
                _("Stop of session %(id)s on station %(station)s: %(status)s (%(answer)s).")
                % {
                    "id": transaction.transaction_id,
                    "station": transaction.station.charger_id,
                    "status": command.get_status_display(),
                    "answer": answer_summary(command),
                },
                messages.SUCCESS if command.status == CommandStatus.ACCEPTED else messages.WARNING,
            )
            return HttpResponseRedirect(back)
        return TemplateResponse(
            request,
            "admin/transactions/transaction/stop.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Stop session %(id)s") % {"id": transaction.transaction_id},
                "opts": self.model._meta,
                "transaction": transaction,
                "next": back,
            },
        )

    @admin.display(description=_("stop"))
    def stop_button(self, obj: Transaction) -> str:
        if obj.stopped_at is not None:
            return ""
        return format_html(
            '<a class="button cc-stop" href="{}">{}</a>',
            reverse("admin:transactions_transaction_stop", args=[obj.pk]),
            _("Stop"),
        )

    @admin.action(description=_("Export selected transactions as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> HttpResponse:
        return transactions_csv(queryset)

    @admin.action(description=_("Close the selected sessions manually"), permissions=["close"])
    def close_manually(
        self, request: HttpRequest, queryset: QuerySet[Transaction]
    ) -> TemplateResponse | None:
        """Close sessions stuck active (their station vanished), with a reason for the audit."""
        form = CloseForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            closed = 0
            for tx in queryset.select_related("station"):
                try:
                    transaction_close_manually(
                        transaction=tx, by=request.user, reason=form.cleaned_data["reason"]
                    )
                except TransactionCloseError:
                    # The reason is given (the form checked it): the session had stopped.
                    self.message_user(
                        request,
                        _("Session %(id)s had already stopped: left as it is.")
                        % {"id": tx.transaction_id},
                        messages.WARNING,
                    )
                else:
                    self.log_change(
                        request, tx, _("Closed manually: %s") % form.cleaned_data["reason"]
                    )
                    closed += 1
            self.message_user(
                request,
                ngettext("%(count)d session closed.", "%(count)d sessions closed.", closed)
                % {"count": closed},
                messages.SUCCESS if closed else messages.WARNING,
            )
            return None
        return TemplateResponse(
            request,
            "admin/transactions/transaction/close.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Close sessions manually"),
                "opts": self.model._meta,
                "form": form,
                "transactions": queryset.select_related("station"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.display(description=_("station"), ordering="station__charger_id")
    def station_display(self, obj: Transaction) -> str:
        return obj.station.charger_id

    @admin.display(description=_("connector"), ordering="connector__connector_id")
    def connector_display(self, obj: Transaction) -> str:
        return str(obj.connector.connector_id) if obj.connector else "-"

    @admin.display(description=_("started"), ordering="started_at")
    def started_display(self, obj: Transaction) -> str:
        return time_seconds(obj.started_at)

    @admin.display(description=_("stopped"), ordering="stopped_at")
    def stopped_display(self, obj: Transaction) -> str:
        return time_seconds(obj.stopped_at)

    @admin.display(description=_("energy (kWh)"))
    def energy_display(self, obj: Transaction) -> str:
        if obj.energy_wh is not None or obj.stopped_at is not None:
            return kwh(obj.energy_wh)
        # Still charging: the energy so far, from the latest register reading.
        return kwh(live_transaction(transaction=obj).energy_wh)

    @admin.display(description=_("cost"))
    def cost_display(self, obj: Transaction) -> str:
        if obj.cost is not None:
            return money(obj.cost, obj.tariff.currency if obj.tariff else "EUR")
        if obj.stopped_at is not None:
            return "-"
        # Still charging: the cost so far, from the readings so far (a page shows one).
        running = transaction_running_cost(transaction=obj)
        if running is None:
            return "-"
        return _("%(amount)s so far") % {"amount": money(running.total, running.currency)}

    @admin.display(description=_("cost in parts"))
    def cost_parts(self, obj: Transaction) -> str:
        cost = transaction_running_cost(transaction=obj)
        if cost is None:
            return _("No tariff applies: the session is free.")
        parts = [
            (_("energy"), cost.energy),
            (_("charging time"), cost.time),
            (_("idle fee"), cost.idle),
            (_("session fee"), cost.session_fee),
            (_("net"), cost.net_shown),
            (_("VAT"), cost.vat_shown),
            (_("total"), cost.total),
        ]
        return format_html_join(
            " · ",
            "{}: {}",
            (
                (label, money(round_money(amount, cost.currency), cost.currency))
                for label, amount in parts
            ),
        )

    @admin.display(description=_("duration"))
    def duration_display(self, obj: Transaction) -> str:
        return duration(obj)

    @admin.display(description=_("charts"))
    def charts(self, obj: Transaction) -> str:
        power, energy = transaction_series(transaction=obj)
        if not power.points and not energy.points:
            return _("No meter values yet.")
        return format_html(
            '<div class="cc-charts">{}{}</div>',
            line_chart(
                energy.points,
                title=_("Energy"),
                unit="kWh",
                scale=1000,
                decimals=2,
                css_class="cc-chart-energy",
            ),
            line_chart(
                power.points,
                title=_("Power"),
                unit="kW",
                scale=1000,
                decimals=1,
                css_class="cc-chart-power",
            ),
        )

    @admin.display(description=_("meter values"))
    def meter_values_csv_link(self, obj: Transaction) -> str:
        url = reverse("admin:transactions_transaction_meter_values_csv", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}" download>{}</a>', url, _("Download meter values (CSV)")
        )


@admin.register(MeterValue)
class MeterValueAdmin(SiteScopedAdminMixin, RecordAdminMixin, admin.ModelAdmin):
    """Readings as the stations sent them: read-only for everyone."""

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
