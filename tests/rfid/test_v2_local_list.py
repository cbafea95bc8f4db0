"""The local authorization list for OCPP 2.0.1 and 2.1 stations: SendLocalList end to end."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation
from apps.rfid.models import IdTag, LocalListEntry
from apps.rfid.services import local_list_send
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"]),
]

EXPIRY = datetime(2031, 1, 31, 8, 15, 0, 250000, tzinfo=UTC)
LONG = "T" * 30  # too long for a 1.6 list, fine for 2.x (36)


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
    IdTag.objects.create(id_tag=LONG, token_type="KeyCode", in_local_list=True)


async def boot(cp, version: str) -> None:
    call = importlib.import_module(f"ocpp.{'v201' if version == 'ocpp2.0.1' else 'v21'}.call")
    await cp.call(
        call.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )


async def send_list(server, charger_id: str, update_type: str):
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    sent = await server.run(local_list_send, station=station, update_type=update_type)
    return await wait_final(sent.pk)


@sync_to_async
def snapshot(charger_id: str) -> dict:
    return {
        e.id_tag: (e.token_type, e.status, e.expiry_date, e.parent_id_tag, e.version)
        for e in LocalListEntry.objects.filter(station__charger_id=charger_id)
    }


def token(id_tag: str, token_type: str = "ISO14443") -> dict:
    return {"id_token": id_tag, "type": token_type}


async def test_full_then_differential(asgi_server, version):
    await make_tags()
    charger_id = f"LL2-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        full = await send_list(asgi_server, charger_id, "Full")
        after_full = await snapshot(charger_id)
        await db(IdTag.objects.filter(id_tag="ALICE").update, status="Blocked")
        await db(IdTag.objects.filter(id_tag="CAROL").update, in_local_list=False)
        await db(IdTag.objects.filter(id_tag=LONG).update, token_type="Local")
        diff = await send_list(asgi_server, charger_id, "Differential")
        unchanged = await send_list(asgi_server, charger_id, "Differential")
    assert (full.status, diff.status, unchanged.status) == ("accepted",) * 3
    first, second, third = cp.received["SendLocalList"]
    assert first == {
        "version_number": 1,
        "update_type": "Full",
        "local_authorization_list": [
            {"id_token": token("ALICE"), "id_token_info": {"status": "Accepted"}},
            {
                "id_token": token("BOB"),
                "id_token_info": {
                    "status": "Blocked",
                    "cache_expiry_date_time": "2031-01-31T08:15:00.250Z",
                },
            },
            {
                "id_token": token("CAROL"),
                "id_token_info": {
                    "status": "Accepted",
                    "group_id_token": {"id_token": "FLEET", "type": "Central"},
                },
            },
            {"id_token": token(LONG, "KeyCode"), "id_token_info": {"status": "Accepted"}},
        ],
    }
    assert after_full == {
        "ALICE": ("ISO14443", "Accepted", None, "", 1),
        "BOB": ("ISO14443", "Blocked", EXPIRY, "", 1),
        "CAROL": ("ISO14443", "Accepted", None, "FLEET", 1),
        LONG: ("KeyCode", "Accepted", None, "", 1),
    }
    assert second == {
        "version_number": 2,
        "update_type": "Differential",
        "local_authorization_list": [
            {"id_token": token("ALICE"), "id_token_info": {"status": "Blocked"}},
            # A new token type: the old token is removed before the new one is added.
            {"id_token": token(LONG, "KeyCode")},
            {"id_token": token(LONG, "Local"), "id_token_info": {"status": "Accepted"}},
            {"id_token": token("CAROL")},
        ],
    }
    assert await snapshot(charger_id) == {
        "ALICE": ("ISO14443", "Blocked", None, "", 2),
        "BOB": ("ISO14443", "Blocked", EXPIRY, "", 1),
        LONG: ("Local", "Accepted", None, "", 2),
    }
    # Nothing changed: a Differential without entries (2.x wants none rather than []).
    assert third == {"version_number": 3, "update_type": "Differential"}
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    assert station.local_list_version == 3


async def test_a_full_list_of_no_tags_empties_the_station_list(asgi_server, version):
    await make_tags()
    charger_id = f"LL2-EMPTY-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        await send_list(asgi_server, charger_id, "Full")
        await db(IdTag.objects.update, in_local_list=False)
        emptied = await send_list(asgi_server, charger_id, "Full")
    assert emptied.status == "accepted"
    assert cp.received["SendLocalList"][-1] == {"version_number": 2, "update_type": "Full"}
    assert await snapshot(charger_id) == {}


async def test_a_refused_list_changes_nothing(asgi_server, version):
    await make_tags()
    charger_id = f"LL2-REFUSED-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await boot(cp, version)
        await send_list(asgi_server, charger_id, "Full")
        await db(IdTag.objects.filter(id_tag="BOB").update, in_local_list=False)
        cp.replies["SendLocalList"] = {"status": "VersionMismatch"}
        refused = await send_list(asgi_server, charger_id, "Differential")
    assert (refused.status, refused.response) == ("rejected", {"status": "VersionMismatch"})
    assert refused.payload["versionNumber"] == 2
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    assert station.local_list_version == 1
    assert set(await snapshot(charger_id)) == {"ALICE", "BOB", "CAROL", LONG}
