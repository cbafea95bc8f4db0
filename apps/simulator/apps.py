from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(AppConfig):
    name = "apps.simulator"
    verbose_name = _("Charge point simulator")

    def ready(self) -> None:
        from apps.core.processes import process_ending, process_sweep
        from apps.simulator.receivers import release_dead, release_ending

        process_sweep.connect(release_dead, dispatch_uid="simulator.release_dead")
        process_ending.connect(release_ending, dispatch_uid="simulator.release_ending")
