from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from tests.ocpp.charger import connect_v16


@pytest.mark.django_db(transaction=True)
async def test_boot(asgi_server, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect_v16(asgi_server.ws_url, "CP-1") as cp:
        resp = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert resp.status == "Accepted"
    station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-1")
    assert station.vendor == "V"
