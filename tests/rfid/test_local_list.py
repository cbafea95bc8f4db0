"""The local authorization list (SendLocalList, Full and Differential) end to end, every version.

The behaviour is the same for OCPP 1.6, 2.0.1 and 2.1 and is tested once, parametrised by
version; what each version puts on the wire (1.6 idTag/idTagInfo, 2.x idToken/idTokenInfo
with token types and group tokens) is asserted exactly by the `*_on_the_wire` tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation
from apps.rfid.models import IdTag, LocalListEntry
from apps.rfid.services import LocalListError, local_list_send
from tests.commands.helpers import command as send
from tests.commands.helpers import wait_final
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

EXPIRY = datetime(2031, 1, 31, 8, 15, 0, 250000, tzinfo=UTC)
LONG = "T" * 30  # too long for a 1.6 list (20), fine for 2.x (36)
VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


@dataclass(frozen=True)
class Dialect:
    """What differs between the versions' SendLocalList, for the shared tests."""

    version: str

    @property
    def v16(self) -> bool:
        return self.version == "ocpp1.6"

    @property
    def version_field(self) -> str:  # in the sent payload, as the ocpp library gives it
        return "list_version" if self.v16 else "version_number"

    @property
    def stored_version_field(self) -> str:  # in the command row's (camelCase) payload
        return "listVersion" if self.v16 else "versionNumber"

    @property
    def refusals(self) -> tuple[str, ...]:
        return (
            ("VersionMismatch", "Failed", "NotSupported")
            if self.v16
            else ("VersionMismatch", "Failed")
        )

    def listed(self, sent: dict[str, Any]) -> list[str]:
        """Return the ids a sent list names, in order."""
        entries = sent.get("local_authorization_list") or []
        if self.v16:
            return [entry["id_tag"] for entry in entries]
        return [entry["id_token"]["id_token"] for entry in entries]

    async def boot(self, cp) -> None:
        package = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}[self.version]
        call = importlib.import_module(f"ocpp.{package}.call")
        if self.v16:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        else:
            await cp.call(
                call.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
            )


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@pytest.fixture(params=VERSIONS)
def dialect(request) -> Dialect:
    return Dialect(request.param)


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


@sync_to_async
def make_tags(*, long_tag: bool = False) -> None:
    fleet = IdTag.objects.create(id_tag="FLEET")
    IdTag.objects.create(id_tag="ALICE", in_local_list=True)
    IdTag.objects.create(id_tag="BOB", status="Blocked", expiry_date=EXPIRY, in_local_list=True)
    IdTag.objects.create(id_tag="CAROL", parent=fleet, in_local_list=True)
    IdTag.objects.create(id_tag="DAVE")  # not in the list
    if long_tag:
        IdTag.objects.create(id_tag=LONG, token_type="KeyCode", in_local_list=True)
    else:
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


@sync_to_async
def typed_snapshot(charger_id: str) -> dict:
    return {
        e.id_tag: (e.token_type, e.status, e.expiry_date, e.parent_id_tag, e.version)
        for e in LocalListEntry.objects.filter(station__charger_id=charger_id)
    }


def token(id_tag: str, token_type: str = "ISO14443") -> dict:
    return {"id_token": id_tag, "type": token_type}


async def test_a_differential_list_sends_only_the_changes(asgi_server, dialect):
    await make_tags()
    charger_id = f"LL-{dialect.version}"
    async with connect_charger(asgi_server.ws_url, charger_id, dialect.version) as cp:
        await dialect.boot(cp)
        full = await send_list(asgi_server, charger_id, "Full")
        await db(IdTag.objects.filter(id_tag="ALICE").update, status="Blocked")
        await db(IdTag.objects.filter(id_tag="CAROL").update, in_local_list=False)
        diff = await send_list(asgi_server, charger_id, "Differential")
    assert (full.status, diff.status) == ("accepted", "accepted")
    first, second = cp.received["SendLocalList"]
    expected_full = ["ALICE", "BOB", "CAROL"] + ([] if dialect.v16 else ["T" * 21])
    assert dialect.listed(first) == expected_full
    assert (first[dialect.version_field], second[dialect.version_field]) == (1, 2)
    assert dialect.listed(second) == ["ALICE", "CAROL"]  # ALICE changed, CAROL removed
    held = await snapshot(charger_id)
    assert held["ALICE"] == ("Blocked", None, "", 2)
    assert held["BOB"] == ("Blocked", EXPIRY, "", 1)
    assert "CAROL" not in held and "DAVE" not in held
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    assert station.local_list_version == 2


async def test_a_refused_list_is_kept_on_the_command_and_changes_nothing(asgi_server, dialect):
    await make_tags()
    charger_id = f"LL-REFUSED-{dialect.version}"
    async with connect_charger(asgi_server.ws_url, charger_id, dialect.version) as cp:
        await dialect.boot(cp)
        await send_list(asgi_server, charger_id, "Full")
        held = await snapshot(charger_id)
        await db(IdTag.objects.filter(id_tag="BOB").update, in_local_list=False)
        outcomes = {}
        for answer in dialect.refusals:
            cp.replies["SendLocalList"] = {"status": answer}
            outcomes[answer] = await send_list(asgi_server, charger_id, "Differential")
    for answer, done in outcomes.items():
        assert (done.status, done.response) == ("rejected", {"status": answer})
        # The station never took version 2: each attempt offers it again.
        assert done.payload[dialect.stored_version_field] == 2
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    assert station.local_list_version == 1
    assert await snapshot(charger_id) == held


async def test_differential_to_a_station_without_a_list_sends_everything(asgi_server, dialect):
    await make_tags()
    charger_id = f"LL-EMPTY-{dialect.version}"
    async with connect_charger(asgi_server.ws_url, charger_id, dialect.version) as cp:
        await dialect.boot(cp)
        done = await send_list(asgi_server, charger_id, "Differential")
    assert done.status == "accepted"
    [sent] = cp.received["SendLocalList"]
    assert sent[dialect.version_field] == 1
    expected = ["ALICE", "BOB", "CAROL"] + ([] if dialect.v16 else ["T" * 21])
    assert dialect.listed(sent) == expected


async def test_differential_refuses_a_list_it_did_not_send(asgi_server, dialect):
    await make_tags()
    charger_id = f"LL-FOREIGN-{dialect.version}"
    async with connect_charger(asgi_server.ws_url, charger_id, dialect.version) as cp:
        await dialect.boot(cp)
        await send_list(asgi_server, charger_id, "Full")
        cp.replies["GetLocalListVersion"] = {dialect.version_field: 7}
        await send(asgi_server, charger_id, "GetLocalListVersion", {})
        station = await db(ChargingStation.objects.get, charger_id=charger_id)
        with pytest.raises(LocalListError, match="holds list version 7"):
            await asgi_server.run(local_list_send, station=station, update_type="Differential")
        full = await send_list(asgi_server, charger_id, "Full")
    assert full.payload[dialect.stored_version_field] == 8
    assert len(cp.received["SendLocalList"]) == 2


async def test_a_full_list_of_no_tags_empties_the_station_list(asgi_server, dialect):
    await make_tags()
    charger_id = f"LL-NONE-{dialect.version}"
    async with connect_charger(asgi_server.ws_url, charger_id, dialect.version) as cp:
        await dialect.boot(cp)
        await send_list(asgi_server, charger_id, "Full")
        await db(IdTag.objects.update, in_local_list=False)
        emptied = await send_list(asgi_server, charger_id, "Full")
    assert emptied.status == "accepted"
    last = cp.received["SendLocalList"][-1]
    # 1.6 sends an empty list; 2.x wants none rather than [].
    empty = {"local_authorization_list": []} if dialect.v16 else {}
    assert last == {dialect.version_field: 2, "update_type": "Full", **empty}
    assert await snapshot(charger_id) == {}


async def test_an_unknown_update_type_is_refused():
    station = await db(ChargingStation.objects.create, charger_id="LL-TYPE")
    with pytest.raises(LocalListError, match="Full or Differential"):
        await db(local_list_send, station=station, update_type="Partial")


async def test_v16_full_then_differential_on_the_wire(asgi_server):
    await make_tags()
    async with connect_charger(asgi_server.ws_url, "LL-1", "ocpp1.6") as cp:
        await Dialect("ocpp1.6").boot(cp)
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


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_v2_full_then_differential_on_the_wire(asgi_server, version):
    await make_tags(long_tag=True)
    charger_id = f"LL2-{version}"
    async with connect_charger(asgi_server.ws_url, charger_id, version) as cp:
        await Dialect(version).boot(cp)
        full = await send_list(asgi_server, charger_id, "Full")
        after_full = await typed_snapshot(charger_id)
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
    assert await typed_snapshot(charger_id) == {
        "ALICE": ("ISO14443", "Blocked", None, "", 2),
        "BOB": ("ISO14443", "Blocked", EXPIRY, "", 1),
        LONG: ("Local", "Accepted", None, "", 2),
    }
    # Nothing changed: a Differential without entries (2.x wants none rather than []).
    assert third == {"version_number": 3, "update_type": "Differential"}
    station = await db(ChargingStation.objects.get, charger_id=charger_id)
    assert station.local_list_version == 3
