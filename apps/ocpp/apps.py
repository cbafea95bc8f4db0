from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OcppConfig(AppConfig):
    name = "apps.ocpp"
    verbose_name = _("OCPP")

    def ready(self) -> None:
        from apps.commands.services import command_delivery_set
        from apps.ocpp import local

        # Commands sent from a thread of this process reach its sockets without crossing
        # threads through an in-memory channel layer (apps.commands.services._notify).
        command_delivery_set(local.deliver)
