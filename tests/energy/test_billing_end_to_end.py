"""Sessions priced and charged to their account, end to end over real websockets.

A 1.6 and a 2.0.1 charger start with an account's card, send meter values and stop; the
session's cost (exact) and the account's ledger charge follow. The card belongs to the
account, and the server links the session to it at the start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v16 import call as v16
from ocpp.v201 import call as v201

from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry, Tariff
from apps.energy.services import ledger_post
from apps.rfid.models import IdTag
from apps.transactions import billing
from apps.transactions.models import Transaction
from tests.energy.e2e import db, iso, wait_for
from tests.ocpp.charger import connect_charger, connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def setup(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.CELERY_QUEUE = "off"  # pricing runs in the server's billing thread
    settings.ENERGY_STOP_MARGIN = Decimal("0")


def make_account(card: str, balance: str) -> EnergyAccount:
    account = EnergyAccount.objects.create(name=f"account {card}")
    if Decimal(balance):
        ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal(balance), reference="t")
    IdTag.objects.create(id_tag=card, account=account)
    return account


def make_tariff(**prices: str) -> Tariff:
    return Tariff.objects.create(
        code="standard", name="Standard", valid_from=T0 - timedelta(days=30), **prices
    )


def link(charger_id: str, account: EnergyAccount) -> Transaction:
    """Return the station's session, which the server linked to the card's account."""
    tx = Transaction.objects.get(station__charger_id=charger_id)
    assert tx.account_id == account.pk, "the session is not charged to the card's account"
    return tx


def priced(pk: int) -> Transaction | None:
    """The session has its cost."""
    tx = Transaction.objects.select_related("tariff").get(pk=pk)
    return tx if tx.cost is not None else None


def energy(wh: int, at: datetime, context: str = "Sample.Periodic", snake: bool = False) -> dict:
    sampled = {"value": str(wh) if not snake else wh, "measurand": "Energy.Active.Import.Register"}
    if snake:
        sampled["unit_of_measure"] = {"unit": "Wh"}
        sampled["context"] = context
        return {"timestamp": iso(at), "sampled_value": [sampled]}
    return {"timestamp": iso(at), "sampled_value": [{**sampled, "unit": "Wh"}]}


# 10 kWh at 0.30 + 60 min at 0.01 + session fee 0.50 = 4.10 net; VAT 22 % 0.902 → 5.00.
PRICES = {
    "energy_price": "0.30",
    "time_price": "0.01",
    "session_fee": "0.50",
    "vat_percent": "22",
}


async def boot_and_start(cp, card: str, meter_start: int):
    """Boot a 1.6 charger and start a session on connector 1 with `card` at T0."""
    await cp.call(v16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    return await cp.call(
        v16.StartTransaction(
            connector_id=1, id_tag=card, meter_start=meter_start, timestamp=iso(T0)
        )
    )


async def reading(cp, transaction_id: int, wh: int, at) -> None:
    """Send one 1.6 MeterValues with the energy register at `wh` at `at`."""
    await cp.call(
        v16.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=[energy(wh, at)])
    )


async def test_a_16_session_is_priced_and_charged_once(asgi_server) -> None:
    account = await db(make_account, "CARD-16", "20")
    tariff = await db(make_tariff, **PRICES)
    async with connect_v16(asgi_server.ws_url, "BILL-16") as cp:
        start = await boot_and_start(cp, "CARD-16", 1000)
        tx = await db(link, "BILL-16", account)
        await reading(cp, start.transaction_id, 6000, T0 + timedelta(minutes=30))
        stop = v16.StopTransaction(
            transaction_id=start.transaction_id,
            meter_stop=11000,
            timestamp=iso(T0 + timedelta(minutes=60)),
            id_tag="CARD-16",
        )
        await cp.call(stop)
        done = await wait_for(lambda: priced(tx.pk))
        # The station did not see our answer: it sends the same stop again.
        await cp.call(stop)
        await db(billing.transaction_price, transaction_pk=tx.pk)  # and the retry job runs
    assert done.cost == Decimal("5.00")
    assert done.tariff_id == tariff.pk
    charges = await db(
        lambda: list(
            LedgerEntry.objects.filter(account=account, kind=EntryKind.CHARGE).values_list(
                "amount", "reference"
            )
        )
    )
    assert charges == [(Decimal("-5.00"), f"tx:{tx.pk}")]
    await db(account.refresh_from_db)
    assert account.balance == Decimal("15.00")


async def test_a_201_session_is_priced_and_charged(asgi_server) -> None:
    account = await db(make_account, "CARD-201", "20")
    await db(make_tariff, **PRICES)

    def event(event_type: str, seq: int, at: datetime, **fields):
        return v201.TransactionEvent(
            event_type=event_type,
            timestamp=iso(at),
            seq_no=seq,
            trigger_reason="Authorized" if event_type == "Started" else "MeterValuePeriodic",
            transaction_info={"transaction_id": "BILL-TX"},
            **fields,
        )

    async with connect_charger(asgi_server.ws_url, "BILL-201", "ocpp2.0.1") as cp:
        await cp.call(
            v201.BootNotification(
                charging_station={"model": "W", "vendor_name": "A"}, reason="PowerUp"
            )
        )
        await cp.call(
            event(
                "Started",
                0,
                T0,
                id_token={"id_token": "CARD-201", "type": "ISO14443"},
                evse={"id": 1, "connector_id": 1},
                meter_value=[energy(1000, T0, "Transaction.Begin", snake=True)],
            )
        )
        tx = await db(link, "BILL-201", account)
        await cp.call(
            event(
                "Updated",
                1,
                T0 + timedelta(minutes=30),
                meter_value=[energy(6000, T0 + timedelta(minutes=30), snake=True)],
            )
        )
        ended = await cp.call(
            event(
                "Ended",
                2,
                T0 + timedelta(minutes=60),
                meter_value=[
                    energy(11000, T0 + timedelta(minutes=60), "Transaction.End", snake=True)
                ],
            )
        )
        done = await wait_for(lambda: priced(tx.pk))
    # OCPP 2.0.1 I02/I03: the final cost in the Ended event's answer, and as a message.
    assert ended.total_cost == 5.0
    assert ended.updated_personal_message == {
        "format": "UTF8",
        "language": "en",
        "content": "Total 5.00 EUR",
    }
    assert done.cost == Decimal("5.00")
    await db(account.refresh_from_db)
    assert account.balance == Decimal("15.00")


async def test_a_running_session_at_the_margin_is_stopped_once(asgi_server, settings) -> None:
    settings.ENERGY_STOP_MARGIN = Decimal("0.50")
    account = await db(make_account, "CARD-LOW", "2")
    await db(make_tariff, energy_price="0.30")
    async with connect_v16(asgi_server.ws_url, "BILL-LOW") as cp:
        start = await boot_and_start(cp, "CARD-LOW", 0)
        tx = await db(link, "BILL-LOW", account)
        # 4 kWh: 1.20 spent of 2.00, 0.80 left: above the margin, nothing sent.
        await reading(cp, start.transaction_id, 4000, T0 + timedelta(minutes=20))
        assert await asgi_server.run(billing.transactions_margin_check) == []
        # 5.5 kWh: 1.65 spent, 0.35 left: below the margin: stopped, and only once.
        await reading(cp, start.transaction_id, 5500, T0 + timedelta(minutes=25))
        sent = await asgi_server.run(billing.transactions_margin_check)
        assert len(sent) == 1
        assert await asgi_server.run(billing.transactions_margin_check) == []
        await wait_for(lambda: cp.received["RemoteStopTransaction"])
        assert cp.received["RemoteStopTransaction"] == [{"transaction_id": start.transaction_id}]
        # The charger stops as asked.
        await cp.call(
            v16.StopTransaction(
                transaction_id=start.transaction_id,
                meter_stop=5600,
                timestamp=iso(T0 + timedelta(minutes=26)),
                reason="Remote",
            )
        )
        done = await wait_for(lambda: priced(tx.pk))
    assert done.stop_reason == "Remote"
    assert done.cost == Decimal("1.68")
    await db(account.refresh_from_db)
    assert account.balance == Decimal("0.32")


async def test_a_session_without_a_tariff_stays_free(asgi_server) -> None:
    account = await db(make_account, "CARD-FREE", "5")
    async with connect_v16(asgi_server.ws_url, "BILL-FREE") as cp:
        start = await boot_and_start(cp, "CARD-FREE", 0)
        tx = await db(link, "BILL-FREE", account)
        await cp.call(
            v16.StopTransaction(
                transaction_id=start.transaction_id, meter_stop=900, timestamp=iso(T0)
            )
        )
    assert await db(billing.transaction_price, transaction_pk=tx.pk) is None
    assert (await db(Transaction.objects.get, pk=tx.pk)).cost is None
    await db(account.refresh_from_db)
    assert account.balance == Decimal("5")


async def test_a_201_station_is_sent_the_running_cost_when_it_changes(asgi_server, settings):
    settings.ENERGY_COST_UPDATES = True
    account = await db(make_account, "CARD-RUN", "20")
    await db(make_tariff, energy_price="0.30")

    def event(event_type: str, seq: int, wh: int, minutes: int, **fields):
        at = T0 + timedelta(minutes=minutes)
        return v201.TransactionEvent(
            event_type=event_type,
            timestamp=iso(at),
            seq_no=seq,
            trigger_reason="Authorized" if event_type == "Started" else "MeterValuePeriodic",
            transaction_info={"transaction_id": "RUN-TX"},
            meter_value=[energy(wh, at, snake=True)],
            **fields,
        )

    async with connect_charger(asgi_server.ws_url, "BILL-RUN", "ocpp2.0.1") as cp:
        await cp.call(
            v201.BootNotification(
                charging_station={"model": "W", "vendor_name": "A"}, reason="PowerUp"
            )
        )
        await cp.call(
            event(
                "Started",
                0,
                0,
                0,
                id_token={"id_token": "CARD-RUN", "type": "ISO14443"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        await db(link, "BILL-RUN", account)
        await cp.call(event("Updated", 1, 5000, 30))
        assert await asgi_server.run(billing.transactions_margin_check) == []
        await wait_for(lambda: cp.received["CostUpdated"])
        # Unchanged: not sent again; changed: sent.
        await asgi_server.run(billing.transactions_margin_check)
        await cp.call(event("Updated", 2, 6000, 40))
        await asgi_server.run(billing.transactions_margin_check)
        await wait_for(lambda: len(cp.received["CostUpdated"]) == 2)
    assert cp.received["CostUpdated"] == [
        {"transaction_id": "RUN-TX", "total_cost": 1.5},
        {"transaction_id": "RUN-TX", "total_cost": 1.8},
    ]
