from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.core.views import healthz
from apps.dashboard.views import changelog, home

urlpatterns = [
    # The signed-in operator's home page; anonymous visitors go to the login page.
    path("", admin.site.admin_view(home), name="home"),
    # The admin's documentation (docstrings of models, views, template tags and filters),
    # where the admin's own "Documentation" link expects it; the old address redirects.
    path("admin/doc/", include("django.contrib.admindocs.urls")),
    re_path(r"^admindocs/(?P<rest>.*)$", RedirectView.as_view(url="/admin/doc/%(rest)s")),
    # Before the admin's own URLs: the control center lives under /admin/ too.
    path("admin/control-center/", include("apps.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api")),
    path("files/", include("apps.maintenance.urls")),
    path("payments/", include("apps.payments.urls")),
    path("slack/", include("apps.integrations.slack.urls")),
    path("healthz", healthz, name="healthz"),
    path("changelog/", changelog, name="changelog"),
    # Self-service for account owners (docs/billing.md, section "portal").
    path("account/", include("apps.portal.urls")),
    # Each user's data: export, import with a dry run (docs/userdata.md).
    path("my-data/", include("apps.userdata.urls")),
]
