from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChargersConfig(AppConfig):
    name = "apps.chargers"
    verbose_name = _("Charging stations")

    def ready(self) -> None:
        from apps.chargers.receivers import release_dead, release_ending
        from apps.core.processes import process_ending, process_sweep

        process_sweep.connect(release_dead, dispatch_uid="chargers.release_dead")
        process_ending.connect(release_ending, dispatch_uid="chargers.release_ending")
