from __future__ import annotations

import logging

from celery import shared_task

from apps.reservations.services import reservations_expire, reservations_settle_failed

logger = logging.getLogger(__name__)


@shared_task
def expire_reservations() -> int:
    """Expire reservations past their time; settle those the station answered with an error."""
    settled = reservations_settle_failed()
    if settled:
        logger.info("%s reservation(s) rejected after a CALLERROR", settled)
    return reservations_expire()
