from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "apps.security"
    verbose_name = _("Security events")

    def ready(self) -> None:
        from apps.commands.signals import command_limit_reached
        from apps.security.checks import check_ca_settings
        from apps.security.receivers import command_limit_reached_record

        # Synchronous: the event is written in the transaction of the refused send_command.
        command_limit_reached.connect(
            command_limit_reached_record, dispatch_uid="security.command_limit_reached"
        )
        checks.register(check_ca_settings)
