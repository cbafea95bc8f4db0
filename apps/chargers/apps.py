from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChargersConfig(AppConfig):
    name = "apps.chargers"
    verbose_name = _("Charging stations")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.chargers.models import ChargingStation, Site
        from apps.chargers.receivers import release_dead, release_ending
        from apps.chargers.sigils import station_changed, station_root_register
        from apps.core.processes import process_ending, process_sweep

        process_sweep.connect(release_dead, dispatch_uid="chargers.release_dead")
        process_ending.connect(release_ending, dispatch_uid="chargers.release_ending")

        station_root_register()
        for model in (ChargingStation, Site):
            uid = f"chargers.sigils.{model.__name__}"
            post_save.connect(station_changed, sender=model, dispatch_uid=f"{uid}.saved")
            post_delete.connect(station_changed, sender=model, dispatch_uid=f"{uid}.deleted")
