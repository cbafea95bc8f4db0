"""Configuration errors of the Odoo settings are system checks; the sync is scheduled."""

from __future__ import annotations

from django.conf import settings as django_settings

from apps.integrations.odoo.checks import check_odoo_settings


def ids(settings) -> list[str]:
    return [error.id for error in check_odoo_settings()]


def test_the_defaults_pass(settings) -> None:
    assert ids(settings) == []


def test_bad_values_are_reported(settings) -> None:
    settings.ODOO_TIMEOUT = 0
    settings.ODOO_RETRIES = 50
    settings.ODOO_SYNC_USERS_SECONDS = 5
    settings.ODOO_LOGIN, settings.ODOO_ENABLED = True, False
    assert ids(settings) == ["odoo.E001", "odoo.E002", "odoo.E003", "odoo.E004"]


def test_the_users_sync_and_the_sales_retry_are_in_the_beat_schedule() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["odoo-sync-users"]["task"] == "apps.integrations.odoo.tasks.sync_users"
    assert schedule["odoo-sync-users"]["schedule"] == django_settings.ODOO_SYNC_USERS_SECONDS
    assert schedule["odoo-push-pending-sales"]["task"].endswith("push_pending_sales")
