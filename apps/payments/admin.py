"""Processors' settings (credentials write-only) and top-ups (refund action)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.payments.models import SECRET_FIELDS, ProcessorConfig, TopUp, TopUpStatus
from apps.payments.processors.base import PaymentError
from apps.payments.services import topup_refund

SECRET_LABELS = {
    "secret_key": _("secret key (Stripe) / client secret (PayPal)"),
    "webhook_secret": _("webhook signing secret (Stripe)"),
    "test_secret_key": _("test secret key (Stripe) / test client secret (PayPal)"),
    "test_webhook_secret": _("test webhook signing secret (Stripe)"),
}


def _secret_field(name: str) -> forms.CharField:
    return forms.CharField(
        label=SECRET_LABELS[name],
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class ProcessorConfigForm(forms.ModelForm):
    """Secrets are typed in, never shown again: an empty field keeps the saved value."""

    secret_key = _secret_field("secret_key")
    webhook_secret = _secret_field("webhook_secret")
    test_secret_key = _secret_field("test_secret_key")
    test_webhook_secret = _secret_field("test_webhook_secret")
    clear_secrets = forms.BooleanField(label=_("forget all saved secrets"), required=False)

    class Meta:
        model = ProcessorConfig
        fields = [
            "processor",
            "enabled",
            "test_mode",
            "client_id",
            "webhook_id",
            "test_client_id",
            "test_webhook_id",
        ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in SECRET_FIELDS:
            saved = bool(self.instance.pk and self.instance.has_secret(name))
            self.fields[name].help_text = (
                _("Saved; leave empty to keep it.") if saved else _("Not set.")
            )

    def save(self, commit: bool = True) -> ProcessorConfig:
        config = super().save(commit=False)
        if self.cleaned_data.get("clear_secrets"):
            for name in SECRET_FIELDS:
                config.set_secret(name, "")
        for name in SECRET_FIELDS:
            value = self.cleaned_data.get(name) or ""
            if value:
                config.set_secret(name, value)
        if commit:
            config.save()
        return config


@admin.register(ProcessorConfig)
class ProcessorConfigAdmin(admin.ModelAdmin):
    form = ProcessorConfigForm
    list_display = ["processor", "enabled", "test_mode", "secrets_saved", "updated_at"]

    def get_fields(self, request: HttpRequest, obj: ProcessorConfig | None = None) -> list[str]:
        return [*ProcessorConfigForm.Meta.fields, *SECRET_FIELDS, "clear_secrets"]

    @admin.display(description=_("secrets saved"))
    def secrets_saved(self, obj: ProcessorConfig) -> str:
        return ", ".join(name for name in SECRET_FIELDS if obj.has_secret(name)) or "-"


@admin.register(TopUp)
class TopUpAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "account",
        "amount",
        "currency",
        "processor",
        "status",
        "test_mode",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "processor", "test_mode"]
    list_select_related = ["account"]
    search_fields = ["external_id", "payment_ref", "account__name"]
    raw_id_fields = ["account", "created_by"]
    actions = ["refund"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # top-ups start at a processor (the portal), never typed in

    def has_change_permission(self, request: HttpRequest, obj: TopUp | None = None) -> bool:
        return False

    @admin.action(description=_("Refund through the processor"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> None:
        for topup in queryset.filter(status=TopUpStatus.PAID):
            try:
                topup_refund(topup=topup, by=request.user.get_username())
            except PaymentError as exc:
                self.message_user(request, f"{topup.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, _("Top-up %(pk)s refunded.") % {"pk": topup.pk})

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.refund_topup")
