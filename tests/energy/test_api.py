"""The accounts' REST API: reads, staff writes, ledger read-only, adjustments permission-checked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.energy.models import AccountStatus, EnergyAccount, EntryKind, LedgerEntry
from apps.energy.services import ledger_post
from apps.rfid.models import IdTag

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> EnergyAccount:
    account = EnergyAccount.objects.create(name="Rossi", credit_limit=Decimal("5"))
    ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("20"), reference="p:1")
    IdTag.objects.create(id_tag="CARD-1", account=account)
    return account


def url(account: EnergyAccount, tail: str = "") -> str:
    return f"/api/energy-accounts/{account.pk}/{tail}"


def test_it_lists_accounts_with_balance_available_and_cards(account, client_with) -> None:
    response = client_with("energy.view_energyaccount").get("/api/energy-accounts/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["balance"] == "20.0000" and row["available"] == "25.0000"
    assert row["id_tags"] == ["CARD-1"] and row["status"] == "active"


@pytest.mark.parametrize(
    "request_url", ["/api/energy-accounts/", "/api/ledger-entries/"], ids=["accounts", "ledger"]
)
def test_it_refuses_who_may_not_read(account, client_with, request_url: str) -> None:
    assert APIClient().get(request_url).status_code == 401
    assert client_with().get(request_url).status_code == 403


def test_staff_with_the_permission_create_and_update_but_not_the_balance(
    client_with, django_user_model
) -> None:
    django_user_model.objects.create_user("mario", password="a-long-test-password")
    client = client_with(
        "energy.view_energyaccount", "energy.add_energyaccount", "energy.change_energyaccount"
    )
    created = client.post(
        "/api/energy-accounts/",
        {"name": "Mario", "owner": "mario", "credit_limit": "10", "balance": "1000"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    account = EnergyAccount.objects.get(pk=created.json()["id"])
    assert account.owner.username == "mario" and account.balance == Decimal("0")
    changed = client.patch(url(account), {"group": "fleet", "status": "closed"}, format="json")
    assert changed.status_code == 200
    account.refresh_from_db()
    assert (account.group, account.status) == ("fleet", AccountStatus.ACTIVE)


def test_creating_needs_the_add_permission(client_with) -> None:
    client = client_with("energy.view_energyaccount")
    assert client.post("/api/energy-accounts/", {"name": "X"}, format="json").status_code == 403
    assert not EnergyAccount.objects.exists()


def test_accounts_are_never_deleted(account, client_with) -> None:
    client = client_with("energy.view_energyaccount", "energy.delete_energyaccount")
    assert client.delete(url(account)).status_code == 405
    assert EnergyAccount.objects.filter(pk=account.pk).exists()


def test_the_ledger_is_read_only_and_filtered_by_account(account, client_with) -> None:
    other = EnergyAccount.objects.create(name="Bianchi")
    ledger_post(account=other, kind=EntryKind.TOPUP, amount=Decimal("1"), reference="p:2")
    client = client_with(
        "energy.view_ledgerentry", "energy.add_ledgerentry", "energy.change_ledgerentry"
    )
    rows = client.get(f"/api/ledger-entries/?account={account.pk}").json()["results"]
    assert [(r["kind"], r["amount"]) for r in rows] == [("topup", "20.0000")]
    assert client.get("/api/ledger-entries/?account=x").status_code == 400
    refused = client.post(
        "/api/ledger-entries/", {"account": account.pk, "kind": "topup", "amount": "9"}
    )
    assert refused.status_code == 405
    assert LedgerEntry.objects.count() == 2


def test_an_adjustment_is_posted_with_reason_and_who(account, client_with) -> None:
    client = client_with("energy.view_energyaccount", "energy.adjust_balance")
    response = client.post(
        url(account, "adjust/"), {"amount": "-2.5", "reason": "damaged cable"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["amount"], body["balance_after"]) == (
        "adjustment",
        "-2.5000",
        "17.5000",
    )
    assert body["created_by"].startswith("operator") and body["reason"] == "damaged cable"
    account.refresh_from_db()
    assert account.balance == Decimal("17.5")


def test_an_adjustment_needs_its_permission(account, client_with) -> None:
    client = client_with("energy.view_energyaccount", "energy.change_energyaccount")
    response = client.post(url(account, "adjust/"), {"amount": "50", "reason": "gift"})
    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "0", "reason": "nothing"}, "other than zero"),
        ({"amount": "abc", "reason": "x"}, "A valid number is required."),
        ({"amount": "1.00001", "reason": "x"}, "decimal places"),
        ({"amount": "5"}, "This field is required."),
        ({"amount": "5", "reason": "   "}, "This field may not be blank."),
    ],
)
def test_a_bad_adjustment_is_a_400_with_a_message(account, client_with, data, message) -> None:
    client = client_with("energy.view_energyaccount", "energy.adjust_balance")
    response = client.post(url(account, "adjust/"), data, format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


def test_blocking_keeps_the_reason_and_needs_one(account, client_with) -> None:
    client = client_with("energy.view_energyaccount", "energy.change_energyaccount")
    refused = client.post(url(account, "status/"), {"status": "blocked"}, format="json")
    assert refused.status_code == 400 and "needs a reason" in refused.json()["detail"]
    done = client.post(
        url(account, "status/"), {"status": "blocked", "reason": "unpaid"}, format="json"
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["status_reason"]) == ("blocked", "unpaid")
    assert (
        client_with("energy.view_energyaccount")
        .post(url(account, "status/"), {"status": "active"}, format="json")
        .status_code
        == 403
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.BLOCKED


def test_a_card_is_linked_to_an_account_through_the_id_tag_api(account, client_with) -> None:
    client = client_with("rfid.view_idtag", "rfid.add_idtag")
    response = client.post(
        "/api/id-tags/", {"id_tag": "CARD-2", "account": account.pk}, format="json"
    )
    assert response.status_code == 201
    assert IdTag.objects.get(id_tag="CARD-2").account_id == account.pk
    listed = client.get(f"/api/id-tags/?account={account.pk}").json()["results"]
    assert sorted(r["id_tag"] for r in listed) == ["CARD-1", "CARD-2"]


def test_the_drivers_language_is_set_through_the_api_and_checked(client_with) -> None:
    account = EnergyAccount.objects.create(name="Lingua")
    client = client_with("energy.view_energyaccount", "energy.change_energyaccount")
    refused = client.patch(url(account), {"language": "xx"}, format="json")
    assert refused.status_code == 400 and "language" in refused.json()
    changed = client.patch(url(account), {"language": "it"}, format="json")
    assert changed.status_code == 200 and changed.json()["language"] == "it"
    account.refresh_from_db()
    assert account.language == "it"
