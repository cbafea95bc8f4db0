from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from apps.core.views import healthz
from apps.dashboard.views import changelog

urlpatterns = [
    path("admindocs/", include("django.contrib.admindocs.urls")),
    # Before the admin's own URLs: the control center lives under /admin/ too.
    path("admin/control-center/", include("apps.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api")),
    path("files/", include("apps.maintenance.urls")),
    path("payments/", include("apps.payments.urls")),
    path("healthz", healthz, name="healthz"),
    path("changelog/", changelog, name="changelog"),
    # Self-service for account owners (docs/billing.md, section "portal").
    path("account/", include("apps.portal.urls")),
    # Each user's data: export, import with a dry run (docs/userdata.md).
    path("my-data/", include("apps.userdata.urls")),
]
