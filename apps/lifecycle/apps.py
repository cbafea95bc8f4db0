from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    name = "apps.lifecycle"
    verbose_name = _("Upgrades")

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        from apps.lifecycle.checks import check_update_channel

        checks.register(check_update_channel)

        post_migrate.connect(_seed_policy, sender=self, dispatch_uid="lifecycle-seed-policy")


def _seed_policy(**kwargs: object) -> None:
    # The first migrate (start.sh, install.sh) turns UPDATE_CHANNEL into the policy row and
    # its beat schedule; later the row rules (`manage.py lifecycle channel --set`).
    from apps.lifecycle.services import policy_ensure

    policy_ensure(using=str(kwargs.get("using") or "default"))
