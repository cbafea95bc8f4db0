from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OdooConfig(AppConfig):
    name = "apps.integrations.odoo"
    label = "odoo"
    verbose_name = _("Odoo")

    def ready(self) -> None:
        from django.core import checks

        from apps.integrations.odoo.checks import check_odoo_settings
        from apps.integrations.odoo.receivers import on_transaction_priced
        from apps.transactions.signals import transaction_priced

        checks.register(check_odoo_settings)
        transaction_priced.connect(on_transaction_priced, dispatch_uid="odoo-push-sale")
