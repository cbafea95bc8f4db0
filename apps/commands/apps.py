from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CommandsConfig(AppConfig):
    name = "apps.commands"
    verbose_name = _("Commands to chargers")

    def ready(self) -> None:
        # The one way operations are declared: each app's `operations.py` registers its own
        # (apps/commands/registry.py), this one's included.
        autodiscover_modules("operations")
