"""Chargers over real sockets present cards of energy accounts: refused or charged to them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call2

from apps.energy.models import AccountStatus, EnergyAccount, EntryKind
from apps.energy.services import ledger_post
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.ocpp.charger import connect_charger, connect_v16

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def accept_all(settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@sync_to_async
def account_card(
    id_tag: str, *, balance: str, status: str = AccountStatus.ACTIVE, reason: str = ""
) -> EnergyAccount:
    account = EnergyAccount.objects.create(name=id_tag, status=status, status_reason=reason)
    if Decimal(balance):
        ledger_post(
            account=account, kind=EntryKind.TOPUP, amount=Decimal(balance), reference="first"
        )
    IdTag.objects.create(id_tag=id_tag, account=account)
    return account


@sync_to_async
def session(**filters: object) -> Transaction:
    return Transaction.objects.get(**filters)


class TestOcpp16:
    async def start(self, asgi_server, id_tag: str) -> tuple[object, object]:
        async with connect_v16(asgi_server.ws_url, "ACC-16") as cp:
            await cp.call(
                call16.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
            )
            auth = await cp.call(call16.Authorize(id_tag=id_tag))
            start = await cp.call(
                call16.StartTransaction(
                    connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=iso(T0)
                )
            )
        return auth, start

    async def test_an_exhausted_account_is_blocked_and_nothing_is_charged_to_it(
        self, asgi_server
    ) -> None:
        account = await account_card("EMPTY", balance="0")
        auth, start = await self.start(asgi_server, "EMPTY")
        assert auth.id_tag_info["status"] == "Blocked"  # 1.6 has no NoCredit
        assert start.id_tag_info["status"] == "Blocked"
        tx = await session(transaction_id=str(start.transaction_id))
        assert tx.authorization_status == "Blocked"
        assert tx.authorization_reason.startswith(f"account {account.pk} has no credit")
        assert tx.account_id is None  # a refused session is charged to no account

    async def test_a_blocked_account_is_blocked(self, asgi_server) -> None:
        account = await account_card(
            "STOLEN", balance="50", status=AccountStatus.BLOCKED, reason="card reported stolen"
        )
        auth, start = await self.start(asgi_server, "STOLEN")
        assert auth.id_tag_info["status"] == start.id_tag_info["status"] == "Blocked"
        tx = await session(transaction_id=str(start.transaction_id))
        assert tx.authorization_reason == f"account {account.pk} blocked: card reported stolen"
        assert tx.account_id is None

    async def test_an_account_with_credit_is_accepted_and_charged(self, asgi_server) -> None:
        account = await account_card("RICH", balance="20")
        auth, start = await self.start(asgi_server, "RICH")
        assert auth.id_tag_info["status"] == start.id_tag_info["status"] == "Accepted"
        tx = await session(transaction_id=str(start.transaction_id))
        assert (tx.authorization_status, tx.authorization_reason) == ("Accepted", "")
        assert tx.account_id == account.pk


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
class TestOcpp2:
    @pytest.fixture(autouse=True)
    def _version(self, version: str) -> None:
        self.version = version

    async def start(self, asgi_server, id_tag: str) -> tuple[object, object]:
        token = {"id_token": id_tag, "type": "ISO14443"}
        call201 = call21 if self.version == "ocpp2.1" else call2
        async with connect_charger(asgi_server.ws_url, "ACC-2", self.version) as cp:
            await cp.call(
                call201.BootNotification(
                    charging_station={"model": "Wallbox", "vendor_name": "Acme"},
                    reason="PowerUp",
                )
            )
            auth = await cp.call(call201.Authorize(id_token=token))
            started = await cp.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=iso(T0),
                    seq_no=0,
                    trigger_reason="Authorized",
                    transaction_info={"transaction_id": f"TX-{id_tag}"},
                    id_token=token,
                    evse={"id": 1, "connector_id": 1},
                )
            )
        return auth, started

    async def test_an_exhausted_account_has_no_credit(self, asgi_server) -> None:
        account = await account_card("EMPTY", balance="0")
        auth, started = await self.start(asgi_server, "EMPTY")
        assert auth.id_token_info["status"] == "NoCredit"
        assert started.id_token_info["status"] == "NoCredit"
        tx = await session(transaction_id="TX-EMPTY")
        assert tx.authorization_status == "NoCredit"
        assert tx.authorization_reason.startswith(f"account {account.pk} has no credit")
        assert tx.account_id is None

    async def test_a_blocked_account_is_blocked(self, asgi_server) -> None:
        await account_card("STOLEN", balance="50", status=AccountStatus.CLOSED)
        auth, started = await self.start(asgi_server, "STOLEN")
        assert auth.id_token_info["status"] == started.id_token_info["status"] == "Blocked"
        tx = await session(transaction_id="TX-STOLEN")
        assert tx.authorization_status == "Blocked" and tx.account_id is None

    async def test_an_account_with_credit_is_accepted_and_charged(self, asgi_server) -> None:
        account = await account_card("RICH", balance="20")
        auth, started = await self.start(asgi_server, "RICH")
        assert auth.id_token_info["status"] == started.id_token_info["status"] == "Accepted"
        tx = await session(transaction_id="TX-RICH")
        assert tx.account_id == account.pk
