from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "apps.security"
    verbose_name = _("Security events")

    def ready(self) -> None:
        from apps.security import effects  # noqa: F401  (registers command side effects)
