"""System checks of the Odoo settings (ids odoo.E00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

BACKEND = "apps.integrations.odoo.auth.OdooBackend"


def check_odoo_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.ODOO_TIMEOUT <= 0:
        errors.append(
            Error(
                f"ODOO_TIMEOUT must be more than 0 seconds (it is {settings.ODOO_TIMEOUT}).",
                hint="Set ODOO_TIMEOUT to the seconds an Odoo call may take (docs/odoo.md).",
                id="odoo.E001",
            )
        )
    if not 0 <= settings.ODOO_RETRIES <= 10 or settings.ODOO_RETRY_BACKOFF < 0:
        errors.append(
            Error(
                "ODOO_RETRIES must be 0 to 10 and ODOO_RETRY_BACKOFF at least 0.",
                hint="Retries are bounded: see docs/odoo.md.",
                id="odoo.E002",
            )
        )
    if settings.ODOO_SYNC_USERS_SECONDS < 60:
        errors.append(
            Error(
                "ODOO_SYNC_USERS_SECONDS must be at least 60.",
                hint="The users sync reads every Odoo user; run it at most once a minute.",
                id="odoo.E003",
            )
        )
    if settings.ODOO_LOGIN and not settings.ODOO_ENABLED:
        errors.append(
            Error(
                "ODOO_LOGIN is on but ODOO_ENABLED is off: nobody can sign in through Odoo.",
                hint="Set ODOO_ENABLED=on, or ODOO_LOGIN=off.",
                id="odoo.E004",
            )
        )
    return errors
