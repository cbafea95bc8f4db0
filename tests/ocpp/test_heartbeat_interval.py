"""The heartbeat interval a station was configured with survives its next boot.

A station adopts the interval of an accepted BootNotification answer: answering
OCPP_HEARTBEAT_INTERVAL there undid an accepted ChangeConfiguration (1.6) or SetVariables
(2.x) of HeartbeatInterval at the station's next boot. Over real sockets, with the `ocpp`
library's chargers answering the CSMS's commands.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call as v16_call
from ocpp.v201 import call as v201_call

from apps.chargers.models import ChargingStation
from tests.commands.helpers import command
from tests.ocpp.charger import connect_charger, connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT = 300


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.OCPP_HEARTBEAT_INTERVAL = DEFAULT


async def boot_v16(cp) -> int:
    answer = await cp.call(
        v16_call.BootNotification(charge_point_model="M", charge_point_vendor="V")
    )
    assert answer.status == "Accepted"
    return answer.interval


async def boot_v201(cp) -> int:
    answer = await cp.call(
        v201_call.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
        )
    )
    assert answer.status == "Accepted"
    return answer.interval


async def change(server, charger_id: str, key: str, value: str) -> str:
    done = await command(server, charger_id, "ChangeConfiguration", {"key": key, "value": value})
    return done.status


async def test_a_1_6_station_keeps_the_interval_it_accepted(asgi_server):
    async with connect_v16(asgi_server.ws_url, "HB-16") as cp:
        assert await boot_v16(cp) == DEFAULT
        assert await change(asgi_server, "HB-16", "HeartbeatInterval", "60") == "accepted"

        assert await boot_v16(cp) == 60

        # Refused: the station still runs 60, and is told so.
        cp.replies["ChangeConfiguration"] = {"status": "Rejected"}
        assert await change(asgi_server, "HB-16", "HeartbeatInterval", "90") == "rejected"
        assert await boot_v16(cp) == 60
        # Taken at the next reboot, under the key in another case (1.6 keys ignore case).
        cp.replies["ChangeConfiguration"] = {"status": "RebootRequired"}
        await change(asgi_server, "HB-16", "heartbeatinterval", "120")
        assert await boot_v16(cp) == 120


async def test_a_2_x_station_keeps_the_interval_it_accepted(asgi_server):
    async with connect_charger(asgi_server.ws_url, "HB-201", "ocpp2.0.1") as cp:
        assert await boot_v201(cp) == DEFAULT
        item = {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
            "attributeValue": "45",
        }
        done = await command(asgi_server, "HB-201", "SetVariables", {"setVariableData": [item]})
        assert done.status == "accepted"

        assert await boot_v201(cp) == 45


async def test_a_reported_interval_does_not_pin_the_answer(asgi_server):
    # GetConfiguration tells what the station runs, often what an earlier boot told it;
    # pinning that would keep a station on an old OCPP_HEARTBEAT_INTERVAL for ever.
    async with connect_v16(asgi_server.ws_url, "HB-READ") as cp:
        await boot_v16(cp)
        cp.replies["GetConfiguration"] = {
            "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "30"}]
        }
        done = await command(asgi_server, "HB-READ", "GetConfiguration", {})
        assert done.status == "accepted"

        assert await boot_v16(cp) == DEFAULT


async def test_a_value_that_is_not_a_number_of_seconds_is_not_told(asgi_server):
    async with connect_v16(asgi_server.ws_url, "HB-BAD") as cp:
        await boot_v16(cp)
        assert await change(asgi_server, "HB-BAD", "HeartbeatInterval", "soon") == "accepted"

        assert await boot_v16(cp) == DEFAULT
    station = await sync_to_async(ChargingStation.objects.get)(charger_id="HB-BAD")
    assert station.heartbeat_interval is None
