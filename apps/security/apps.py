from __future__ import annotations

from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "apps.security"
    verbose_name = "Security events"
