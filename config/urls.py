from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from apps.core.views import healthz

urlpatterns = [
    path("admindocs/", include("django.contrib.admindocs.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api")),
    path("files/", include("apps.maintenance.urls")),
    path("healthz", healthz, name="healthz"),
]
