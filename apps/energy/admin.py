"""Admin of energy accounts and their ledger: actions call apps.energy.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.admin_mixins import RecordAdminMixin
from apps.energy.models import AccountStatus, EnergyAccount, LedgerEntry
from apps.energy.services import AccountError, account_adjust, account_status_set

ADJUST_PERMISSION = "energy.adjust_balance"

# Parts of an account's page that apps above energy add (apps.rfid: the account's cards).
ACCOUNT_INLINES: list[type[admin.options.InlineModelAdmin]] = []


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount"),
        max_digits=14,
        decimal_places=4,
        help_text=_("Positive credits the account, negative debits it."),
    )
    reason = forms.CharField(label=_("reason"), max_length=200)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("The amount must not be zero."))
        return amount


class StatusReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)


class AccountPartInline(admin.TabularInline):
    """A part of the account shown read-only to whoever may see the account."""

    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("energy.view_energyaccount") or request.user.has_perm(
            "energy.change_energyaccount"
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LedgerEntryInline(AccountPartInline):
    """The account's ledger, newest first (LedgerEntry's ordering)."""

    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "reference", "reason", "created_by"]
    readonly_fields = fields


@admin.register(EnergyAccount)
class EnergyAccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "organisation",
        "balance",
        "credit_limit",
        "unit",
        "currency",
        "status",
        "group",
    ]
    list_filter = ["status", "unit", "group"]
    list_select_related = ["owner"]
    search_fields = ["name", "organisation", "owner__username", "owner__email"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["balance", "status", "status_reason", "created_at", "tools"]
    fields = [
        "name",
        "owner",
        "organisation",
        "unit",
        "currency",
        "credit_limit",
        "group",
        "language",
        "balance",
        "status",
        "status_reason",
        "created_at",
        "tools",
    ]
    inlines = [LedgerEntryInline]
    actions = ["block", "close", "reactivate"]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[type]:
        return [*ACCOUNT_INLINES, *self.inlines]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="energy_energyaccount_adjust",
            ),
            *super().get_urls(),
        ]

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADJUST_PERMISSION)

    @admin.display(description=_("manual adjustment"))
    def tools(self, obj: EnergyAccount) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:energy_energyaccount_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Manual adjustment"))

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        account = self.get_object(request, object_id)
        if account is None:
            raise Http404
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        form = AdjustmentForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                entry = account_adjust(
                    account=account,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    by=request.user.get_username(),
                )
            except AccountError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("Adjustment of %(amount)s written; the balance is %(balance)s.")
                    % {"amount": entry.amount, "balance": entry.balance_after},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:energy_energyaccount_change", args=[account.pk])
                )
        return TemplateResponse(
            request,
            "admin/energy/energyaccount/form.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Manual adjustment of %(account)s") % {"account": account},
                "opts": self.model._meta,
                "original": account,
                "form": form,
                "submit": _("Write the adjustment"),
            },
        )

    def _set_status(
        self,
        request: HttpRequest,
        queryset: QuerySet[EnergyAccount],
        status: str,
        action: str,
        title: str,
    ) -> TemplateResponse | None:
        needs_reason = status != AccountStatus.ACTIVE
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if not needs_reason or form.is_valid():
            reason = form.cleaned_data["reason"] if needs_reason else ""
            changed = sum(
                account_status_set(
                    account=account, status=status, reason=reason, by=request.user.get_username()
                )
                for account in queryset
            )
            self.message_user(
                request,
                ngettext("%(count)d account changed.", "%(count)d accounts changed.", changed)
                % {"count": changed},
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/energy/energyaccount/form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "form": form,
                "accounts": queryset,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "submit": title,
            },
        )

    @admin.action(description=_("Block the selected accounts"), permissions=["change"])
    def block(
        self, request: HttpRequest, queryset: QuerySet[EnergyAccount]
    ) -> TemplateResponse | None:
        return self._set_status(
            request, queryset, AccountStatus.BLOCKED, "block", _("Block accounts")
        )

    @admin.action(description=_("Close the selected accounts"), permissions=["change"])
    def close(
        self, request: HttpRequest, queryset: QuerySet[EnergyAccount]
    ) -> TemplateResponse | None:
        return self._set_status(
            request, queryset, AccountStatus.CLOSED, "close", _("Close accounts")
        )

    @admin.action(description=_("Reactivate the selected accounts"), permissions=["change"])
    def reactivate(
        self, request: HttpRequest, queryset: QuerySet[EnergyAccount]
    ) -> TemplateResponse | None:
        return self._set_status(
            request, queryset, AccountStatus.ACTIVE, "reactivate", _("Reactivate accounts")
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Every debit and credit; written only by services (charges, top-ups, adjustments)."""

    list_display = [
        "created_at",
        "account",
        "kind",
        "amount",
        "balance_after",
        "reference",
        "reason",
        "created_by",
    ]
    list_filter = ["kind"]
    list_select_related = ["account"]
    search_fields = ["account__name", "reference", "reason", "created_by"]
    raw_id_fields = ["account"]


# Tariff versions have their own module.
from apps.energy.tariffs_admin import TariffAdmin  # noqa: E402

__all__ = ["TariffAdmin"]
