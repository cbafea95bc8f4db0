"""Handler pieces that every OCPP version shares (the messages differ, the answers do not)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.chargers import services as chargers
from apps.chargers.models import RegistrationStatus
from apps.core.timeutil import format_ocpp_datetime
from apps.protocol.engine import HandlerContext


def boot_answer(context: HandlerContext, boot: chargers.StationBoot) -> dict[str, Any]:
    """Answer a BootNotification from the station's registration; remember it on the context."""
    context.accepted = boot.registration_status == RegistrationStatus.ACCEPTED
    context.extra["free_charging"] = boot.free_charging
    if not context.accepted:
        interval = settings.OCPP_BOOT_RETRY_INTERVAL
    elif boot.heartbeat_interval is not None:
        # The station takes this interval: answer the one it was configured with.
        interval = boot.heartbeat_interval
    else:
        interval = settings.OCPP_HEARTBEAT_INTERVAL
    return {
        "status": boot.registration_status,
        "currentTime": format_ocpp_datetime(boot.booted_at),
        "interval": interval,
    }


def heartbeat(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    now = chargers.station_heartbeat(station_id=context.station_id)
    return {"currentTime": format_ocpp_datetime(now)}


def data_transfer(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    record = chargers.data_transfer_receive(
        station_id=context.station_id,
        vendor_id=payload["vendorId"],
        message_id=payload.get("messageId", ""),
        data=payload.get("data", ""),
    )
    return {"status": record.status}
