from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class NodesConfig(AppConfig):
    name = "apps.nodes"
    verbose_name = _("This node")

    def ready(self) -> None:
        from apps.core.processes import process_serving
        from apps.nodes.checks import check_node_settings
        from apps.nodes.queue import local_beat_start

        checks.register(check_node_settings)

        process_serving.connect(_refresh, dispatch_uid="nodes-refresh")
        # Without a Celery worker the server runs the periodic jobs and queued tasks itself.
        process_serving.connect(local_beat_start, dispatch_uid="nodes-local-beat")


def _refresh(**_kwargs: object) -> None:
    from django.conf import settings

    from apps.nodes.services import node_refresh

    node_refresh(port=getattr(settings, "NODE_PORT", 0) or None)
