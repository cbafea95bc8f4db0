from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlackConfig(AppConfig):
    name = "apps.integrations.slack"
    label = "slack"
    verbose_name = _("Slack")

    def ready(self) -> None:
        from django.core import checks

        from apps.core.processes import process_serving
        from apps.integrations.slack import notifications
        from apps.integrations.slack.checks import check_slack_settings

        checks.register(check_slack_settings)
        # The server process listens to its own live events (docs/slack.md, notifications).
        process_serving.connect(notifications.listen, dispatch_uid="slack-listen")
