from __future__ import annotations

from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "apps.security"
    verbose_name = "Security events"

    def ready(self) -> None:
        from apps.security import effects  # noqa: F401  (registers command side effects)
