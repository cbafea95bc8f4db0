"""A card's energy account decides with it: blocked, closed, exhausted, credit limit, minimum."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.energy.models import AccountStatus, EnergyAccount, EntryKind
from apps.energy.services import ledger_post
from apps.rfid.models import AuthorizationStatus, IdTag
from apps.rfid.services import id_tag_authorize, v16_status

pytestmark = pytest.mark.django_db


def account_with(balance: str, *, credit_limit: str = "0", **fields: object) -> EnergyAccount:
    account = EnergyAccount.objects.create(
        name="Rossi", credit_limit=Decimal(credit_limit), **fields
    )
    if Decimal(balance):
        ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal(balance), reference="t")
    return account


def card(account: EnergyAccount | None, **fields: object) -> str:
    IdTag.objects.create(id_tag="CARD", account=account, **fields)
    return "CARD"


def test_a_card_without_an_account_is_decided_by_the_card_alone(
    django_assert_num_queries,
) -> None:
    card(None)
    with django_assert_num_queries(1):  # the card's row only: nothing asked of accounts
        info = id_tag_authorize(id_tag="CARD")
    assert (info.status, info.reason, info.account_id) == ("Accepted", "", None)


def test_an_account_with_credit_accepts_and_is_the_one_charged() -> None:
    account = account_with("10")
    info = id_tag_authorize(id_tag=card(account))
    assert (info.status, info.reason, info.account_id) == ("Accepted", "", account.pk)


@pytest.mark.parametrize("status", [AccountStatus.BLOCKED, AccountStatus.CLOSED])
def test_a_blocked_or_closed_account_blocks_its_cards(status: str) -> None:
    account = account_with("10", status=status, status_reason="unpaid invoice")
    info = id_tag_authorize(id_tag=card(account))
    assert info.status == "Blocked"
    assert info.reason == f"account {account.pk} {status}: unpaid invoice"
    assert info.account_id is None


@pytest.mark.parametrize("balance", ["0", "-3"])
def test_an_exhausted_account_has_no_credit(balance: str) -> None:
    account = account_with(balance)
    info = id_tag_authorize(id_tag=card(account))
    assert info.status == "NoCredit"
    assert "has no credit" in info.reason and info.account_id is None
    # OCPP 1.6 has no NoCredit.
    assert v16_status(info.status) == "Blocked"


def test_the_credit_limit_lets_a_negative_balance_charge() -> None:
    account = account_with("-3", credit_limit="5")
    assert id_tag_authorize(id_tag=card(account)).status == "Accepted"


def test_a_credit_limit_used_up_has_no_credit() -> None:
    account = account_with("-5", credit_limit="5")
    assert id_tag_authorize(id_tag=card(account)).status == "NoCredit"


def test_the_minimum_to_start_is_needed(settings) -> None:
    settings.ENERGY_MIN_TO_START = 2.5
    account = account_with("2")
    info = id_tag_authorize(id_tag=card(account))
    assert info.status == "NoCredit"
    assert "2 EUR available" in info.reason and "2.5 needed" in info.reason
    ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("0.5"), reference="t2")
    assert id_tag_authorize(id_tag="CARD").status == "Accepted"


def test_the_card_is_asked_before_the_account() -> None:
    account = account_with("0")  # would be NoCredit
    info = id_tag_authorize(id_tag=card(account, status=AuthorizationStatus.BLOCKED))
    assert (info.status, info.reason) == ("Blocked", "")


def test_a_card_in_use_is_concurrent_before_the_account_is_asked() -> None:
    account = account_with("0")
    info = id_tag_authorize(id_tag=card(account), has_active_transaction=True)
    assert info.status == "ConcurrentTx"


def test_v16_status_changes_nothing_else() -> None:
    assert [v16_status(s) for s in ("Accepted", "Blocked", "Expired", "Invalid")] == [
        "Accepted",
        "Blocked",
        "Expired",
        "Invalid",
    ]


def test_the_local_list_tells_what_the_account_says() -> None:
    from apps.rfid.services import _local_list_wanted  # what SendLocalList sends

    rich, empty = account_with("10"), EnergyAccount.objects.create(name="Empty")
    stolen = EnergyAccount.objects.create(name="Stolen", status=AccountStatus.BLOCKED)
    for id_tag, account in [("RICH", rich), ("EMPTY", empty), ("STOLEN", stolen), ("NONE", None)]:
        IdTag.objects.create(id_tag=id_tag, account=account, in_local_list=True)

    def statuses(*, v2: bool) -> dict[str, str]:
        key = "idTokenInfo" if v2 else "idTagInfo"
        return {tag: e[key]["status"] for tag, e in _local_list_wanted(v2=v2).items()}

    assert statuses(v2=True) == {
        "EMPTY": "NoCredit",
        "NONE": "Accepted",
        "RICH": "Accepted",
        "STOLEN": "Blocked",
    }
    assert statuses(v2=False)["EMPTY"] == "Blocked"


def test_a_reservation_for_a_card_of_an_account_is_the_accounts() -> None:
    from datetime import timedelta

    from apps.chargers.models import ChargingStation
    from apps.core.timeutil import utcnow
    from apps.reservations.services import reservation_create

    account = account_with("10")
    card(account)
    station = ChargingStation.objects.create(charger_id="RES-1")  # offline: rejected at once
    reservation = reservation_create(
        station=station, id_tag="CARD", expires_at=utcnow() + timedelta(hours=1), connector_id=1
    )
    assert reservation.account_id == account.pk
    other = reservation_create(
        station=station, id_tag="UNKNOWN", expires_at=utcnow() + timedelta(hours=1), connector_id=2
    )
    assert other.account_id is None
