from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UserdataConfig(AppConfig):
    name = "apps.userdata"
    label = "userdata"
    verbose_name = _("User data")
