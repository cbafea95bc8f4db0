from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "apps.dashboard"
    verbose_name = _("Control center")

    def ready(self) -> None:
        from django.contrib import admin

        # The product's name in every admin page's header and title (issue #20); "View
        # site" leads to the home page at / (apps.dashboard.views.home).
        admin.site.site_header = _("Constellation")
        # The index groups the models by what operators do; the sidebar's alphabetical list
        # of apps took 300 px of every list's width (energy and stop reason went off-screen).
        admin.site.enable_nav_sidebar = False
        admin.site.site_title = _("Constellation")
        admin.site.site_url = "/"
