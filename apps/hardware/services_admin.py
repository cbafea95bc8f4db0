"""The hardware services' states: their own read-only list, and a panel on the node page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_mixins import RecordAdminMixin
from apps.hardware.models import ServiceStatus
from apps.nodes.panels import panel_register


@admin.register(ServiceStatus)
class ServiceStatusAdmin(RecordAdminMixin, admin.ModelAdmin):
    """What each service's supervisor last recorded; the supervisor alone writes these rows."""

    list_display = ["name", "feature", "state", "detail", "restarts", "updated_at"]
    list_filter = ["state"]
    readonly_fields = list_display


def _services_panel(request: HttpRequest) -> dict[str, Any] | None:
    if not request.user.has_perm("hardware.view_servicestatus"):
        return None
    return {"services": list(ServiceStatus.objects.order_by("name"))}


panel_register(
    name="hardware-services",
    template="admin/hardware/services_panel.html",
    context=_services_panel,
)
