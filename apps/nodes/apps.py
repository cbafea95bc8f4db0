from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class NodesConfig(AppConfig):
    name = "apps.nodes"
    verbose_name = _("This node")

    def ready(self) -> None:
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from apps.core.processes import process_serving
        from apps.nodes import sigils
        from apps.nodes.checks import check_node_settings, check_sigils
        from apps.nodes.models import Node
        from apps.nodes.queue import local_beat_start

        checks.register(check_node_settings)
        checks.register(check_sigils)

        sigils.register_builtin_roots()
        sigils.sigil_text_register(
            name="Node.name", get=_node_name, help=_("this node's name, on its page and the LCD")
        )
        post_save.connect(_node_changed, sender=Node, dispatch_uid="nodes-sigils-saved")
        post_delete.connect(_node_changed, sender=Node, dispatch_uid="nodes-sigils-deleted")
        setting_changed.connect(_setting_changed, dispatch_uid="nodes-sigils-settings")

        process_serving.connect(_refresh, dispatch_uid="nodes-refresh")
        # Without a Celery worker the server runs the periodic jobs and queued tasks itself.
        process_serving.connect(local_beat_start, dispatch_uid="nodes-local-beat")


def _refresh(**_kwargs: object) -> None:
    from django.conf import settings

    from apps.nodes.services import node_refresh

    node_refresh(port=getattr(settings, "NODE_PORT", 0) or None)


def _node_name() -> str:
    from apps.nodes.models import Node

    return Node.objects.filter(local=True).values_list("name", flat=True).first() or ""


def _node_changed(**_kwargs: object) -> None:
    from apps.nodes.sigils import sigils_invalidate

    sigils_invalidate("NODE")


def _setting_changed(**_kwargs: object) -> None:
    from apps.nodes.sigils import sigils_invalidate

    sigils_invalidate()  # ENV/CONF allow-lists and values may be other ones
