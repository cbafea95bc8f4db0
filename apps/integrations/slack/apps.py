from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlackConfig(AppConfig):
    name = "apps.integrations.slack"
    label = "slack"
    verbose_name = _("Slack")
