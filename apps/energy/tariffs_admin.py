"""Admin of tariff versions: a save writes the next version (apps.energy.services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.energy.models import HeldTariff, Tariff
from apps.energy.pricing import PricingError, parse_bands
from apps.energy.services import tariff_save_version


class TariffForm(forms.ModelForm):
    class Meta:
        model = Tariff
        fields = [
            "code",
            "name",
            "station",
            "group",
            "currency",
            "energy_price",
            "time_price",
            "idle_price",
            "idle_grace_minutes",
            "session_fee",
            "vat_percent",
            "bands",
            "valid_from",
        ]

    def clean_bands(self) -> Any:
        bands = self.cleaned_data["bands"]
        try:
            parse_bands(bands)
        except PricingError as exc:
            raise forms.ValidationError(
                _("Bands are a list of {from, to, energy_price}: %(error)s"),
                params={"error": exc},
            ) from exc
        return bands


@admin.register(Tariff)
class TariffAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """Tariff versions: saving a change writes the next version; versions are never deleted."""

    form = TariffForm
    list_display = [
        "code",
        "version",
        "name",
        "station",
        "group",
        "currency",
        "energy_price",
        "time_price",
        "session_fee",
        "vat_percent",
        "valid_from",
    ]
    list_filter = ["currency", "group"]
    list_select_related = ["station"]
    search_fields = ["code", "name", "station__charger_id"]
    raw_id_fields = ["station"]
    readonly_fields = ["version", "created_at"]
    ordering = ["code", "-version"]

    def save_model(self, request: HttpRequest, obj: Tariff, form: Any, change: bool) -> None:
        tariff_save_version(tariff=obj)

    # Sessions keep the version they were priced with (PROTECT): versions are kept.
    def has_delete_permission(self, request: HttpRequest, obj: Tariff | None = None) -> bool:
        return False


@admin.register(HeldTariff)
class HeldTariffAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    """The tariffs OCPP 2.1 stations hold, as their answers said: read only."""

    list_display = [
        "station",
        "evse_id",
        "tariff_id",
        "kind",
        "tariff_version",
        "valid_from",
        "updated_at",
    ]
    list_filter = ["kind"]
    list_select_related = ["station", "tariff_version"]
    search_fields = ["station__charger_id", "tariff_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: HeldTariff | None = None) -> bool:
        return False
