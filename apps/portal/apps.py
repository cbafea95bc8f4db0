from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "apps.portal"
    verbose_name = _("Self-service and receipts")

    def ready(self) -> None:
        from django.conf import settings

        from apps.nodes.sigils import sigil_text_register

        # The receipt's issuer lines resolve sigils (docs/sigils.md): checked and previewed.
        for name in ("BILLING_ISSUER_NAME", "BILLING_ISSUER_ADDRESS"):
            sigil_text_register(
                name=name,
                get=lambda name=name: getattr(settings, name),
                help=_("printed at the top of every receipt"),
            )
