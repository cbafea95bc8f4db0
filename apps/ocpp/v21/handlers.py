"""OCPP 2.1 charging station → CSMS actions: the 2.0.1 handlers, validated by 2.1 schemas,
and 2.1's own answers (the driver's tariff in the Authorize answer)."""

from __future__ import annotations

from typing import Any

from apps.core.timeutil import utcnow
from apps.energy.selectors import driver_tariff_type
from apps.ocpp.v201 import handlers as v201
from apps.protocol.engine import HandlerContext, HandlerRegistry

registry = HandlerRegistry()


@registry.handles("Authorize")
def authorize(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    info = v201.authorize_token(context, payload["idToken"])
    answer: dict[str, Any] = {"idTokenInfo": v201.id_token_info(info)}
    if info.group and info.account_id is not None:
        # 2.1 C01: the tariff the station prices this driver's session with (its group's).
        tariff = driver_tariff_type(station_id=context.station_id, group=info.group, at=utcnow())
        if tariff is not None:
            answer["tariff"] = tariff
    return answer


registry.include(v201.registry)
