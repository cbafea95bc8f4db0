from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OdooConfig(AppConfig):
    name = "apps.integrations.odoo"
    label = "odoo"
    verbose_name = _("Odoo")
