"""Odoo instances (API key write-only; test, dry run, sync), products, sales (docs/odoo.md)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.chargers.scoped import SiteScopedAdminMixin
from apps.energy.models import Tariff
from apps.integrations.odoo.client import OdooError
from apps.integrations.odoo.models import (
    GroupMapping,
    OdooInstance,
    OdooUser,
    SaleState,
    SessionSale,
    TariffProduct,
)
from apps.integrations.odoo.selectors import product_get, products_search
from apps.integrations.odoo.services import (
    SyncPlan,
    instance_connection_test,
    session_sale_push,
    tariff_product_link,
    users_sync,
)

SYNC_PERMISSION = "odoo.sync_odoo_users"


class OdooInstanceForm(forms.ModelForm):
    """The API key is typed in, never shown again: an empty field keeps the saved one."""

    api_key = forms.CharField(
        label=_("API key or password"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    clear_api_key = forms.BooleanField(label=_("forget the saved API key"), required=False)
    url = forms.URLField(
        label=_("URL"),
        max_length=300,
        assume_scheme="https",
        help_text=_("The Odoo server, e.g. https://erp.example.com"),
    )

    class Meta:
        model = OdooInstance
        fields = [
            "name",
            "enabled",
            "url",
            "database",
            "username",
            "sync_users",
            "login_enabled",
            "push_sales",
            "sale_partner_id",
            "default_product_id",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        saved = bool(self.instance.pk and self.instance.has_api_key)
        self.fields["api_key"].help_text = (
            _("Saved; leave empty to keep it.")
            if saved
            else _("Odoo: Preferences > Account Security > New API Key.")
        )

    def save(self, commit: bool = True) -> OdooInstance:
        instance = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            instance.set_api_key("")
        if self.cleaned_data.get("api_key"):
            instance.set_api_key(self.cleaned_data["api_key"])
        if commit:
            instance.save()
        return instance


class GroupMappingInline(admin.TabularInline):
    model = GroupMapping
    extra = 1
    autocomplete_fields = ["django_group"]


@admin.register(OdooInstance)
class OdooInstanceAdmin(admin.ModelAdmin):
    form = OdooInstanceForm
    list_display = [
        "name",
        "enabled",
        "url",
        "database",
        "username",
        "api_key_saved",
        "sync_users",
        "login_enabled",
        "push_sales",
        "last_sync_at",
        "last_sync_result",
        "tools",
    ]
    inlines = [GroupMappingInline]
    actions = ["test_connection", "sync_users_dry_run", "sync_users_apply"]
    readonly_fields = ["last_sync_at", "last_sync_result"]

    def get_fields(self, request: HttpRequest, obj: OdooInstance | None = None) -> list[str]:
        return [*OdooInstanceForm.Meta.fields, "api_key", "clear_api_key", *self.readonly_fields]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/products/",
                self.admin_site.admin_view(self.products_view),
                name="odoo_odooinstance_products",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("API key saved"), boolean=True)
    def api_key_saved(self, obj: OdooInstance) -> bool:
        return obj.has_api_key

    @admin.display(description=_("products"))
    def tools(self, obj: OdooInstance) -> str:
        url = reverse("admin:odoo_odooinstance_products", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Find products"))

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SYNC_PERMISSION)

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[OdooInstance]) -> None:
        for instance in queryset:
            try:
                report = instance_connection_test(instance=instance)
            except OdooError as exc:
                self.message_user(request, f"{instance}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(name)s: connected to Odoo %(version)s as user id %(uid)s.")
                    % {"name": instance, "version": report.server_version, "uid": report.uid},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Sync users (dry run)"), permissions=["sync"])
    def sync_users_dry_run(
        self, request: HttpRequest, queryset: QuerySet[OdooInstance]
    ) -> TemplateResponse | None:
        plans: list[SyncPlan] = []
        for instance in queryset:
            try:
                plans.append(users_sync(instance=instance, dry_run=True))
            except OdooError as exc:
                self.message_user(request, f"{instance}: {exc}", messages.ERROR)
        if not plans:
            return None
        return TemplateResponse(
            request,
            "admin/odoo/sync_plan.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Users sync: what would change"),
                "opts": self.model._meta,
                "plans": plans,
                "instances": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Sync users"), permissions=["sync"])
    def sync_users_apply(self, request: HttpRequest, queryset: QuerySet[OdooInstance]) -> None:
        for instance in queryset:
            try:
                plan = users_sync(instance=instance)
            except OdooError as exc:
                self.message_user(
                    request,
                    _("%(name)s: nothing changed: %(error)s") % {"name": instance, "error": exc},
                    messages.ERROR,
                )
            else:
                self.message_user(request, f"{instance}: {plan.summary()}", messages.SUCCESS)

    def products_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        instance = self.get_object(request, object_id)
        if instance is None:
            raise Http404
        if not (
            self.has_view_permission(request, instance)
            and request.user.has_perm("odoo.view_tariffproduct")
        ):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()[:100]
        products, error = [], ""
        if query:
            try:
                products = products_search(instance=instance, query=query)
            except OdooError as exc:
                error = str(exc)
        return TemplateResponse(
            request,
            "admin/odoo/products.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Odoo products of %(name)s") % {"name": instance},
                "opts": self.model._meta,
                "original": instance,
                "query": query,
                "products": products,
                "error": error,
                "link_url": reverse("admin:odoo_tariffproduct_add"),
            },
        )


class TariffProductForm(forms.ModelForm):
    tariff_code = forms.ChoiceField(label=_("tariff"))

    class Meta:
        model = TariffProduct
        fields = ["instance", "tariff_code", "product_id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = Tariff.objects.order_by("code").values_list("code", "name").distinct()
        seen: dict[str, str] = {}
        for code, name in codes:
            seen.setdefault(code, f"{code} ({name})")
        self.fields["tariff_code"].choices = sorted(seen.items())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        instance, product_id = data.get("instance"), data.get("product_id")
        if instance is not None and product_id:
            try:
                product = product_get(instance=instance, product_id=product_id)
            except OdooError as exc:
                raise forms.ValidationError(str(exc)) from exc
            if product is None:
                self.add_error(
                    "product_id", _("Odoo has no product with id %(id)s.") % {"id": product_id}
                )
        return data


@admin.register(TariffProduct)
class TariffProductAdmin(admin.ModelAdmin):
    form = TariffProductForm
    list_display = ["tariff_code", "product_name", "product_code", "product_id", "instance"]
    list_select_related = ["instance"]
    list_filter = ["instance"]

    def save_model(self, request: HttpRequest, obj: TariffProduct, form: Any, change: bool) -> None:
        # The service reads the product's name and reference from Odoo and writes the row.
        saved = tariff_product_link(
            instance=obj.instance, tariff_code=obj.tariff_code, product_id=obj.product_id
        )
        obj.pk = saved.pk


@admin.register(OdooUser)
class OdooUserAdmin(admin.ModelAdmin):
    list_display = ["user", "instance", "odoo_uid", "synced_at"]
    list_select_related = ["user", "instance"]
    list_filter = ["instance"]
    search_fields = ["user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the users sync

    def has_change_permission(self, request: HttpRequest, obj: OdooUser | None = None) -> bool:
        return False


@admin.register(SessionSale)
class SessionSaleAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    station_path = "transaction__station"
    list_display = [
        "transaction",
        "instance",
        "state",
        "order_id",
        "product_id",
        "attempts",
        "error",
        "pushed_at",
    ]
    list_filter = ["state", "instance"]
    list_select_related = ["instance", "transaction"]
    raw_id_fields = ["transaction"]
    actions = ["push_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made when a session is priced

    def has_change_permission(self, request: HttpRequest, obj: SessionSale | None = None) -> bool:
        return False

    @admin.action(description=_("Push to Odoo again"), permissions=["push"])
    def push_again(self, request: HttpRequest, queryset: QuerySet[SessionSale]) -> None:
        for sale in queryset.exclude(state=SaleState.PUSHED).select_related("instance"):
            result = session_sale_push(transaction_pk=sale.transaction_id, instance=sale.instance)
            if result is not None and result.state == SaleState.PUSHED:
                self.message_user(
                    request,
                    _("Session %(tx)s: sale order %(order)s.")
                    % {"tx": sale.transaction_id, "order": result.order_id},
                    messages.SUCCESS,
                )
            else:
                error = result.error if result is not None else _("not priced")
                self.message_user(request, f"{sale.transaction_id}: {error}", messages.ERROR)

    def has_push_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("odoo.change_sessionsale")
