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

        checks.register(check_node_settings)

        process_serving.connect(_refresh, dispatch_uid="nodes-refresh")


def _refresh(**_kwargs: object) -> None:
    from apps.nodes.services import node_refresh

    node_refresh()
