"""Sign-in of operators with their Odoo login and password (ODOO_LOGIN, docs/odoo.md).

Odoo never hands out passwords; it checks them (`common.authenticate`). This backend asks the
instances with "Odoo login" on, and on success creates or updates the operator account from
the Odoo user (the same rules as the users sync). Permissions are then the ModelBackend's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from apps.integrations.odoo.selectors import instances_active
from apps.integrations.odoo.services import user_authenticate


class OdooBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if not username or not password:
            return None
        for instance in instances_active(login_enabled=True):
            user = user_authenticate(instance=instance, login=username, password=password)
            if user is not None and self.user_can_authenticate(user):
                return user
        return None
