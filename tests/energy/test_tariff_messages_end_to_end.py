"""OCPP 2.1 tariff messages and the driver's language, end to end over real websockets.

A 2.1 station (the `ocpp` library's ChargePoint) is sent a tariff version when it is
published and the tariffs it holds are recorded; GetTariffs, ClearTariffs and
ChangeTransactionTariff go through the command service; a 2.0.1 station is told the prices
and the total of an Italian driver's session in Italian.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v21 import call as v21
from ocpp.v201 import call as v201

from apps.chargers.models import ChargingStation
from apps.commands.registry import run_operation
from apps.energy.models import EnergyAccount, EntryKind, HeldTariff, Tariff
from apps.energy.services import TARIFF_PUBLISH_SOURCE, ledger_post, tariff_save_version
from apps.rfid.models import IdTag
from tests.commands.helpers import wait_final
from tests.energy.e2e import db, iso, wait_for
from tests.ocpp.charger import connect_charger

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def setup(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.CELERY_QUEUE = "off"
    settings.ENERGY_STOP_MARGIN = Decimal("0")
    settings.LANGUAGE_CODE = "en"


async def boot21(cp) -> None:
    await cp.call(
        v21.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )


def connected(charger_id: str) -> bool:
    """The station's socket is held."""
    return ChargingStation.objects.filter(charger_id=charger_id, is_connected=True).exists()


def publish(**fields) -> Tariff:
    """Publish a tariff version the way the admin does."""
    return tariff_save_version(tariff=Tariff(code="std", name="Standard", valid_from=T0, **fields))


def held(charger_id: str) -> list[tuple[int, str]]:
    return list(
        HeldTariff.objects.filter(station__charger_id=charger_id).values_list(
            "evse_id", "tariff_id"
        )
    )


async def operation(server, charger_id: str, name: str, **arguments):
    """Run a registered operation as the API and the CLI do, and await its outcome."""

    def send():
        station = ChargingStation.objects.get(charger_id=charger_id)
        return run_operation(station=station, operation=name, arguments=arguments)

    sent = await server.run(send)
    return await wait_final(sent.pk)


async def test_a_published_tariff_is_sent_to_a_21_station_which_holds_it(asgi_server):
    async with connect_charger(asgi_server.ws_url, "T21-PUB", "ocpp2.1") as cp:
        await boot21(cp)
        await wait_for(lambda: connected("T21-PUB"))
        tariff = await asgi_server.run(
            publish, energy_price=Decimal("0.30"), session_fee=Decimal("1"), vat_percent=22
        )
        await wait_for(lambda: held("T21-PUB"))
    (sent,) = cp.received["SetDefaultTariff"]
    assert sent["evse_id"] == 0
    assert sent["tariff"]["tariff_id"] == "std-v1"
    assert sent["tariff"]["energy"]["prices"] == [{"price_kwh": 0.3}]
    assert sent["tariff"]["fixed_fee"]["tax_rates"] == [{"type": "VAT", "tax": 22.0}]
    assert await db(held, "T21-PUB") == [(0, "std-v1")]
    row = await db(HeldTariff.objects.get, station__charger_id="T21-PUB")
    assert row.tariff_version_id == tariff.pk
    command = await db(
        lambda: (
            ChargingStation.objects.get(charger_id="T21-PUB")
            .commands.filter(action="SetDefaultTariff")
            .get()
        )
    )
    assert (command.source, command.status, command.response) == (
        TARIFF_PUBLISH_SOURCE,
        "accepted",
        {"status": "Accepted"},
    )


async def test_a_201_station_is_not_sent_a_21_tariff(asgi_server):
    async with connect_charger(asgi_server.ws_url, "T21-OLD", "ocpp2.0.1") as cp:
        await cp.call(
            v201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        await wait_for(lambda: connected("T21-OLD"))
        sent = await asgi_server.run(lambda: publish(energy_price=Decimal("0.30")))
    assert sent.version == 1
    assert (
        await db(lambda: list(ChargingStation.objects.get(charger_id="T21-OLD").commands.all()))
        == []
    )


async def test_a_rejected_tariff_is_recorded_and_not_held(asgi_server):
    async with connect_charger(asgi_server.ws_url, "T21-REJ", "ocpp2.1") as cp:
        await boot21(cp)
        cp.replies["SetDefaultTariff"] = {
            "status": "ConditionNotSupported",
            "status_info": {"reason_code": "NoTimeOfDay"},
        }
        tariff = await db(
            Tariff.objects.create,
            code="night",
            name="Night",
            valid_from=T0,
            energy_price=Decimal("0.40"),
            bands=[{"from": "22:00", "to": "06:00", "energy_price": "0.20"}],
        )
        done = await operation(asgi_server, "T21-REJ", "set_default_tariff", tariff=tariff.pk)
    assert done.status == "rejected"
    assert done.response == {
        "status": "ConditionNotSupported",
        "statusInfo": {"reasonCode": "NoTimeOfDay"},
    }
    assert await db(held, "T21-REJ") == []


async def test_get_clear_and_change_tariffs_round_trip(asgi_server):
    async with connect_charger(asgi_server.ws_url, "T21-OPS", "ocpp2.1") as cp:
        await boot21(cp)
        tariff = await db(
            Tariff.objects.create, code="ops", name="Ops", valid_from=T0, energy_price=1
        )
        cp.replies["GetTariffs"] = {
            "status": "Accepted",
            "tariff_assignments": [
                {"tariff_id": "ops-v1", "tariff_kind": "DefaultTariff", "evse_ids": [1]},
                {"tariff_id": "vendor-7", "tariff_kind": "DefaultTariff"},
            ],
        }
        got = await operation(asgi_server, "T21-OPS", "get_tariffs", evse_id=0)
        assert sorted(await db(held, "T21-OPS")) == [(0, "vendor-7"), (1, "ops-v1")]
        cp.replies["ClearTariffs"] = {
            "clear_tariffs_result": [{"tariff_id": "vendor-7", "status": "Accepted"}]
        }
        cleared = await operation(asgi_server, "T21-OPS", "clear_tariffs", tariff_ids="vendor-7")
        changed = await operation(
            asgi_server,
            "T21-OPS",
            "change_transaction_tariff",
            transaction_id="TX-21",
            tariff=tariff.pk,
        )
        cp.replies["ChangeTransactionTariff"] = {"status": "TxNotFound"}
        refused = await operation(
            asgi_server,
            "T21-OPS",
            "change_transaction_tariff",
            transaction_id="TX-GONE",
            tariff=tariff.pk,
        )
    assert cp.received["GetTariffs"] == [{"evse_id": 0}]
    assert got.status == "accepted" and got.response["status"] == "Accepted"
    assert cp.received["ClearTariffs"] == [{"tariff_ids": ["vendor-7"]}]
    assert cleared.status == "accepted"
    assert await db(held, "T21-OPS") == [(1, "ops-v1")]
    first = cp.received["ChangeTransactionTariff"][0]
    assert first["transaction_id"] == "TX-21" and first["tariff"]["tariff_id"] == "ops-v1"
    assert changed.status == "accepted"
    assert (refused.status, refused.response) == ("rejected", {"status": "TxNotFound"})


def italian_driver(card: str, group: str = "") -> EnergyAccount:
    account = EnergyAccount.objects.create(name=f"account {card}", language="it", group=group)
    ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("20"), reference="t")
    IdTag.objects.create(id_tag=card, account=account)
    return account


async def test_a_21_authorize_carries_the_drivers_group_tariff_and_language(asgi_server):
    await db(italian_driver, "CARD-FLEET", group="fleet")
    await db(
        Tariff.objects.create,
        code="fleet",
        name="Fleet",
        group="fleet",
        valid_from=T0,
        energy_price=Decimal("0.25"),
    )
    async with connect_charger(asgi_server.ws_url, "T21-AUTH", "ocpp2.1") as cp:
        await boot21(cp)
        answer = await cp.call(
            v21.Authorize(id_token={"id_token": "CARD-FLEET", "type": "ISO14443"})
        )
        stranger = await cp.call(v21.Authorize(id_token={"id_token": "NOBODY", "type": "ISO14443"}))
    assert answer.id_token_info == {"status": "Accepted", "language1": "it"}
    assert answer.tariff["tariff_id"] == "fleet-v1"
    assert answer.tariff["energy"] == {"prices": [{"price_kwh": 0.25}]}
    assert stranger.tariff is None and "language1" not in stranger.id_token_info


async def test_a_201_italian_driver_gets_prices_and_total_in_italian(asgi_server):
    account = await db(italian_driver, "CARD-IT")
    await db(
        Tariff.objects.create,
        code="std",
        name="Standard",
        valid_from=T0 - timedelta(days=1),
        energy_price=Decimal("0.30"),
        vat_percent=Decimal("22"),
    )

    def event(event_type: str, seq: int, wh: int, minutes: int, **fields):
        at = T0 + timedelta(minutes=minutes)
        return v201.TransactionEvent(
            event_type=event_type,
            timestamp=iso(at),
            seq_no=seq,
            trigger_reason="Authorized" if event_type == "Started" else "EVDeparted",
            transaction_info={"transaction_id": "IT-TX"},
            meter_value=[
                {
                    "timestamp": iso(at),
                    "sampled_value": [
                        {
                            "value": wh,
                            "measurand": "Energy.Active.Import.Register",
                            "unit_of_measure": {"unit": "Wh"},
                        }
                    ],
                }
            ],
            **fields,
        )

    token = {"id_token": "CARD-IT", "type": "ISO14443"}
    async with connect_charger(asgi_server.ws_url, "T201-IT", "ocpp2.0.1") as cp:
        await cp.call(
            v201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        authorized = await cp.call(v201.Authorize(id_token=token))
        started = await cp.call(
            event("Started", 0, 1000, 0, id_token=token, evse={"id": 1, "connector_id": 1})
        )
        ended = await cp.call(event("Ended", 1, 11000, 60, id_token=token))
    assert authorized.id_token_info["language1"] == "it"
    assert started.id_token_info["language1"] == "it"
    assert started.updated_personal_message == {
        "format": "UTF8",
        "language": "it",
        "content": "0,30 EUR/kWh, più IVA 22%",
    }
    # 10 kWh at 0.30 = 3.00 net, VAT 22 % = 3.66.
    assert ended.total_cost == 3.66
    assert ended.updated_personal_message == {
        "format": "UTF8",
        "language": "it",
        "content": "Totale 3,66 EUR",
    }
    assert ended.id_token_info["language1"] == "it"
    assert account.language == "it"
