from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommandsConfig(AppConfig):
    name = "apps.commands"
    verbose_name = _("Commands to chargers")
