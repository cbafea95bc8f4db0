"""Celery application: broker from settings (filesystem by default, Redis with REDIS_URL)."""

from __future__ import annotations

import os
from types import FrameType

from celery import Celery
from celery.apps.beat import Beat
from celery.beat import Service
from celery.platforms import signals
from kombu.utils.objects import cached_property

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class StoppableBeat(Beat):
    """`celery beat` that ends at once when stopped while its scheduler is still being set up.

    Celery's SIGTERM/SIGINT handler saves the schedule through `service.scheduler`, a lazy
    property: stopped during the scheduler's set-up (django-celery-beat reads and writes the
    database there), the handler built a second scheduler inside the first one's database call,
    broke that connection and left beat running until it was killed. A scheduler not yet built
    has nothing to save, so this handler just exits; a running one is saved as before.
    """

    def install_sync_handler(self, service: Service) -> None:
        def _sync(signum: int, frame: FrameType | None) -> None:
            if "scheduler" in vars(service):  # built: save what it ran
                service.sync()
            raise SystemExit()

        signals.update(SIGTERM=_sync, SIGINT=_sync)


class ConstellationCelery(Celery):
    @cached_property
    def Beat(self) -> type[Beat]:
        return self.subclass_with_self(StoppableBeat)


app = ConstellationCelery("constellation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
