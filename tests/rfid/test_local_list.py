"""The OCPP 1.6 local authorization list: Full and Differential SendLocalList, end to end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.rfid.models import IdTag, LocalListEntry
from apps.rfid.services import LocalListError, local_list_send
from tests.commands.helpers import command as send
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

EXPIRY = datetime(2031, 1, 31, 8, 15, 0, 250000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


@sync_to_async
def make_tags() -> None:
    fleet = IdTag.objects.create(id_tag="FLEET")
    IdTag.objects.create(id_tag="ALICE", in_local_list=True)
    IdTag.objects.create(id_tag="BOB", status="Blocked", expiry_date=EXPIRY, in_local_list=True)
    IdTag.objects.create(id_tag="CAROL", parent=fleet, in_local_list=True)
    IdTag.objects.create(id_tag="DAVE")  # not in the list
    IdTag.objects.create(id_tag="T" * 21, in_local_list=True)  # too long for OCPP 1.6


async def send_list(server, charger_id: str, update_type: str):
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    sent = await server.run(local_list_send, station=station, update_type=update_type)
    return await wait_final(sent.pk)


@sync_to_async
def snapshot(charger_id: str) -> dict:
    return {
        e.id_tag: (e.status, e.expiry_date, e.parent_id_tag, e.version)
        for e in LocalListEntry.objects.filter(station__charger_id=charger_id)
    }


async def booted(cp) -> None:
    await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))


async def test_full_then_differential(asgi_server):
    await make_tags()
    async with connect_v16(asgi_server.ws_url, "LL-1") as cp:
        await booted(cp)
        full = await send_list(asgi_server, "LL-1", "Full")
        after_full = await snapshot("LL-1")
        await db(IdTag.objects.filter(id_tag="ALICE").update, status="Blocked")
        await db(IdTag.objects.filter(id_tag="CAROL").update, in_local_list=False)
        diff = await send_list(asgi_server, "LL-1", "Differential")
    assert (full.status, diff.status) == ("accepted", "accepted")
    first, second = cp.received["SendLocalList"]
    assert first == {
        "list_version": 1,
        "update_type": "Full",
        "local_authorization_list": [
            {"id_tag": "ALICE", "id_tag_info": {"status": "Accepted"}},
            {
                "id_tag": "BOB",
                "id_tag_info": {"status": "Blocked", "expiry_date": "2031-01-31T08:15:00.250Z"},
            },
            {"id_tag": "CAROL", "id_tag_info": {"status": "Accepted", "parent_id_tag": "FLEET"}},
        ],
    }
    assert after_full == {
        "ALICE": ("Accepted", None, "", 1),
        "BOB": ("Blocked", EXPIRY, "", 1),
        "CAROL": ("Accepted", None, "FLEET", 1),
    }
    assert second == {
        "list_version": 2,
        "update_type": "Differential",
        "local_authorization_list": [
            {"id_tag": "ALICE", "id_tag_info": {"status": "Blocked"}},
            {"id_tag": "CAROL"},
        ],
    }
    assert await snapshot("LL-1") == {
        "ALICE": ("Blocked", None, "", 2),
        "BOB": ("Blocked", EXPIRY, "", 1),
    }
    station = await db(ChargingStation.objects.get, charger_id="LL-1")
    assert station.local_list_version == 2


async def test_a_refused_list_is_kept_on_the_command_and_changes_nothing(asgi_server):
    await make_tags()
    async with connect_v16(asgi_server.ws_url, "LL-MISMATCH") as cp:
        await booted(cp)
        await send_list(asgi_server, "LL-MISMATCH", "Full")
        await db(IdTag.objects.filter(id_tag="BOB").update, in_local_list=False)
        outcomes = {}
        for answer in ("VersionMismatch", "Failed", "NotSupported"):
            cp.replies["SendLocalList"] = {"status": answer}
            outcomes[answer] = await send_list(asgi_server, "LL-MISMATCH", "Differential")
    for answer, done in outcomes.items():
        assert (done.status, done.response) == ("rejected", {"status": answer})
        assert done.payload["listVersion"] == 2  # the station never took version 2
    station = await db(ChargingStation.objects.get, charger_id="LL-MISMATCH")
    assert station.local_list_version == 1
    assert set(await snapshot("LL-MISMATCH")) == {"ALICE", "BOB", "CAROL"}


async def test_differential_to_a_station_without_a_list_sends_everything(asgi_server):
    await make_tags()
    async with connect_v16(asgi_server.ws_url, "LL-EMPTY") as cp:
        await booted(cp)
        done = await send_list(asgi_server, "LL-EMPTY", "Differential")
    assert done.status == "accepted"
    [sent] = cp.received["SendLocalList"]
    assert sent["list_version"] == 1
    assert [e["id_tag"] for e in sent["local_authorization_list"]] == ["ALICE", "BOB", "CAROL"]


async def test_differential_refuses_a_list_it_did_not_send(asgi_server):
    await make_tags()
    async with connect_v16(asgi_server.ws_url, "LL-FOREIGN") as cp:
        await booted(cp)
        await send_list(asgi_server, "LL-FOREIGN", "Full")
        cp.replies["GetLocalListVersion"] = {"list_version": 7}
        await send(asgi_server, "LL-FOREIGN", "GetLocalListVersion", {})
        station = await db(ChargingStation.objects.get, charger_id="LL-FOREIGN")
        with pytest.raises(LocalListError, match="holds list version 7"):
            await asgi_server.run(local_list_send, station=station, update_type="Differential")
        full = await send_list(asgi_server, "LL-FOREIGN", "Full")
    assert full.payload["listVersion"] == 8
    assert len(cp.received["SendLocalList"]) == 2


async def test_an_unknown_update_type_is_refused():
    station = await db(ChargingStation.objects.create, charger_id="LL-TYPE")
    with pytest.raises(LocalListError, match="Full or Differential"):
        await db(local_list_send, station=station, update_type="Partial")
