from __future__ import annotations

from django.apps import AppConfig


class CommandsConfig(AppConfig):
    name = "apps.commands"
    verbose_name = "Commands to chargers"
