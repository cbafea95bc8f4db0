from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# What the change history records of a station: what operators set. The connection state the
# station itself reports changes all the time and says nothing about who did what; the
# password hashes are secrets and are never recorded (only when a password was set).
STATION_FIELDS = [
    "charger_id",
    "name",
    "site",
    "registration_status",
    "preferred_ocpp_version",
    "free_charging",
    "heartbeat_interval",
    "security_profile",
    "password_set_at",
]
SECRET_FIELDS = ["password_hash", "pending_password_hash"]


class UserdataConfig(AppConfig):
    name = "apps.userdata"
    label = "userdata"
    verbose_name = _("User data")

    def ready(self) -> None:
        from django.core import checks

        from apps.userdata.checks import check_settings

        checks.register(check_settings)
        self.register_history()

    @staticmethod
    def register_history() -> None:
        """Record who changed what on stations, sites, cards, tariffs, accounts, reservations."""
        from auditlog.registry import auditlog

        from apps.chargers.models import ChargingStation, Site
        from apps.energy.models import EnergyAccount, Tariff
        from apps.reservations.models import Reservation
        from apps.rfid.models import IdTag

        tracked = [
            (ChargingStation, {"include_fields": STATION_FIELDS, "exclude_fields": SECRET_FIELDS}),
            (Site, {"exclude_fields": ["created_at"]}),
            (IdTag, {"exclude_fields": ["created_at"]}),
            (Tariff, {"exclude_fields": ["created_at"]}),
            # The balance follows the ledger, which is its own record of every change.
            (EnergyAccount, {"exclude_fields": ["created_at", "balance"]}),
            (Reservation, {"exclude_fields": ["created_at"]}),
        ]
        for model, options in tracked:
            if not auditlog.contains(model):
                auditlog.register(model, **options)
