"""Admin of the chargers app's own records: status events, reports, data transfers, sites.

The station page itself (ChargingStationAdmin: operations, passwords, message log) is the
control center's, in apps/dashboard/station_admin.py: it uses apps above chargers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.chargers.models import (
    ChargingStation,
    Connector,
    DataTransfer,
    Site,
    SiteMembership,
    StationReport,
    StatusEvent,
)
from apps.chargers.scoped import SiteScopedAdminMixin
from apps.chargers.tenancy import sites_of
from apps.core.admin_mixins import RecordAdminMixin


class ConnectorInline(RecordAdminMixin, admin.TabularInline):
    """The station's connectors as it reports them: created by its messages, never by hand."""

    model = Connector
    extra = 0
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "status_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(StatusEvent)
class StatusEventAdmin(SiteScopedAdminMixin, RecordAdminMixin, admin.ModelAdmin):
    """Statuses as the stations reported them: read-only for everyone."""

    list_display = [
        "station",
        "connector_id",
        "status",
        "error_code",
        "info",
        "timestamp",
        "received_at",
    ]
    list_filter = ["status", "error_code"]
    list_select_related = ["station"]
    search_fields = ["station__charger_id"]
    raw_id_fields = ["station"]


@admin.register(StationReport)
class StationReportAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ["station", "kind", "status", "received_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["station"]
    raw_id_fields = ["station"]


@admin.register(DataTransfer)
class DataTransferAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    list_display = ["station", "direction", "vendor_id", "message_id", "status", "created_at"]
    list_filter = ["direction", "status", "vendor_id"]
    list_select_related = ["station"]
    search_fields = ["station__charger_id", "vendor_id", "message_id"]
    raw_id_fields = ["station"]


class SuperuserEditsMixin:
    """Memberships decide where operators act: only superusers add, change or remove them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or request.user.has_perm("chargers.view_sitemembership")


class SiteMemberInline(SuperuserEditsMixin, admin.TabularInline):
    """The operators of the site."""

    model = SiteMembership
    extra = 0
    fields = ["user", "created_at"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["user"]
    verbose_name = _("member")
    verbose_name_plural = _("members")


class UserSiteInline(SuperuserEditsMixin, admin.TabularInline):
    """The sites of a user, on the user's page."""

    model = SiteMembership
    extra = 0
    fields = ["site", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name = _("site")
    verbose_name_plural = _("sites (where this operator acts; empty: none unless all sites)")


class SiteStationInline(admin.TabularInline):
    """The stations of the site, read-only: a station's site is set on the station's page."""

    model = ChargingStation
    extra = 0
    fields = ["charger_id", "name", "registration_status", "is_connected"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    verbose_name = _("station")
    verbose_name_plural = _("stations")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "time_zone", "station_count", "created_at"]
    search_fields = ["name", "address"]
    inlines = [SiteStationInline, SiteMemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        # Operators see their own sites; superusers and "all sites" holders every one.
        visible = sites_of(request.user).values("pk")
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=visible)
            .annotate(stations_total=Count("stations"))
        )

    @admin.display(description=_("stations"), ordering="stations_total")
    def station_count(self, obj: Site) -> int:
        return obj.stations_total


def _user_admin_with_sites() -> None:
    """Show a user's sites on the user's page (the auth app's own admin, one inline more)."""
    user_model = get_user_model()
    current = admin.site._registry.get(user_model)
    if current is None or UserSiteInline in current.inlines:
        return
    base = type(current)
    admin.site.unregister(user_model)
    admin.site.register(
        user_model, type(base.__name__, (base,), {"inlines": [*base.inlines, UserSiteInline]})
    )


_user_admin_with_sites()
