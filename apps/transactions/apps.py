from __future__ import annotations

from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "apps.transactions"
    verbose_name = "Charging sessions"
