"""The ledger: balance = sum of entries, replays write nothing, entries are never changed."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry
from apps.energy.selectors import account_available, account_ledger_balance
from apps.energy.services import LedgerError, ledger_post


@pytest.fixture
def account(db) -> EnergyAccount:
    return EnergyAccount.objects.create(name="Rossi", credit_limit=Decimal("5"))


def test_the_balance_is_the_sum_of_the_entries(account) -> None:
    ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("20"), reference="p:1")
    ledger_post(account=account, kind=EntryKind.CHARGE, amount=Decimal("-7.35"), reference="tx:1")
    entry, created = ledger_post(
        account=account, kind=EntryKind.ADJUSTMENT, amount=Decimal("1.10"), reason="goodwill"
    )
    assert created and entry.balance_after == Decimal("13.75")
    account.refresh_from_db()
    assert account.balance == Decimal("13.75") == account_ledger_balance(account=account)
    assert account_available(account=account) == Decimal("18.75")


def test_a_replayed_reference_writes_nothing(account) -> None:
    first, created = ledger_post(
        account=account, kind=EntryKind.CHARGE, amount=Decimal("-3"), reference="tx:9"
    )
    again, created_again = ledger_post(
        account=account, kind=EntryKind.CHARGE, amount=Decimal("-3"), reference="tx:9"
    )
    assert created and not created_again and again.pk == first.pk
    account.refresh_from_db()
    assert account.balance == Decimal("-3")
    assert LedgerEntry.objects.filter(account=account).count() == 1


def test_entries_are_never_changed_or_deleted(account) -> None:
    entry, _ = ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("2"))
    entry.amount = Decimal("200")
    with pytest.raises(ValueError, match="never changed"):
        entry.save()
    with pytest.raises(ValueError, match="never deleted"):
        entry.delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("2")


def test_it_refuses_what_is_not_an_entry(account) -> None:
    with pytest.raises(LedgerError, match="unknown entry kind"):
        ledger_post(account=account, kind="gift", amount=Decimal("1"))
    with pytest.raises(LedgerError, match="needs a reason"):
        ledger_post(account=account, kind=EntryKind.ADJUSTMENT, amount=Decimal("1"))
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_add_up() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers by itself; the row lock matters on PostgreSQL")
    account = EnergyAccount.objects.create(name="Bianchi")
    errors: list[BaseException] = []

    def post(n: int) -> None:
        try:
            for i in range(10):
                ledger_post(
                    account=account,
                    kind=EntryKind.TOPUP,
                    amount=Decimal("1"),
                    reference=f"t{n}-{i}",
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    account.refresh_from_db()
    assert account.balance == Decimal("40") == account_ledger_balance(account=account)
