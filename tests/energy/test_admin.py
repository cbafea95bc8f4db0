"""The accounts' admin: list, cards and ledger shown, adjustment and blocking permission-checked."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from apps.chargers.models import ChargingStation
from apps.energy.models import AccountStatus, EnergyAccount, EntryKind, HeldTariff, LedgerEntry
from apps.energy.services import ledger_post
from apps.rfid.models import IdTag

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> EnergyAccount:
    account = EnergyAccount.objects.create(name="Rossi Srl", organisation="Rossi")
    ledger_post(account=account, kind=EntryKind.TOPUP, amount=Decimal("20"), reference="p:1")
    ledger_post(account=account, kind=EntryKind.CHARGE, amount=Decimal("-4.5"), reference="tx:1")
    IdTag.objects.create(id_tag="CARD-ROSSI", label="Mario", account=account)
    return account


@pytest.fixture
def back_to_english() -> Iterator[None]:
    yield
    translation.deactivate()


def change_url(account: EnergyAccount) -> str:
    return reverse("admin:energy_energyaccount_change", args=[account.pk])


def adjust_url(account: EnergyAccount) -> str:
    return reverse("admin:energy_energyaccount_adjust", args=[account.pk])


def test_the_list_shows_balance_and_status(account, staff_client) -> None:
    html = staff_client("energy.view_energyaccount").get(
        reverse("admin:energy_energyaccount_changelist")
    )
    assert html.status_code == 200
    text = html.content.decode()
    assert "Rossi Srl" in text and "15.5000" in text and "active" in text


def test_the_page_shows_cards_and_ledger_newest_first(account, staff_client) -> None:
    text = staff_client("energy.view_energyaccount").get(change_url(account)).content.decode()
    assert "CARD-ROSSI" in text
    assert text.index("tx:1") < text.index("p:1")  # the charge came last: shown first


def test_an_adjustment_is_written_with_reason_and_who(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount", "energy.adjust_balance")
    response = client.post(adjust_url(account), {"amount": "-2.25", "reason": "cable damaged"})
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(account=account, kind=EntryKind.ADJUSTMENT)
    assert (entry.amount, entry.reason) == (Decimal("-2.25"), "cable damaged")
    assert entry.created_by.startswith("staff")
    account.refresh_from_db()
    assert account.balance == Decimal("13.25")


def test_an_adjustment_needs_the_permission(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount", "energy.change_energyaccount")
    response = client.post(adjust_url(account), {"amount": "100", "reason": "gift"})
    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


def test_a_bad_adjustment_is_refused_with_a_message(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount", "energy.adjust_balance")
    response = client.post(adjust_url(account), {"amount": "0", "reason": ""})
    assert response.status_code == 200
    text = response.content.decode()
    assert "The amount must not be zero." in text and "This field is required." in text
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()


def test_ledger_entries_cannot_be_added_changed_or_deleted(account, staff_client) -> None:
    client = staff_client(
        "energy.view_ledgerentry",
        "energy.add_ledgerentry",
        "energy.change_ledgerentry",
        "energy.delete_ledgerentry",
    )
    entry = LedgerEntry.objects.first()
    assert client.get(reverse("admin:energy_ledgerentry_add")).status_code == 403
    delete = reverse("admin:energy_ledgerentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:energy_ledgerentry_change", args=[entry.pk])
    client.post(change, {"amount": "999"})
    assert LedgerEntry.objects.get(pk=entry.pk).amount == entry.amount


def test_blocking_asks_a_reason_then_blocks(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount", "energy.change_energyaccount")
    changelist = reverse("admin:energy_energyaccount_changelist")
    selection = {"action": "block", "_selected_action": [account.pk]}
    form = client.post(changelist, selection)
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    done = client.post(changelist, {**selection, "apply": "1", "reason": "unpaid invoice"})
    assert done.status_code == 302
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (AccountStatus.BLOCKED, "unpaid invoice")
    client.post(changelist, {"action": "reactivate", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (AccountStatus.ACTIVE, "")


def test_blocking_needs_the_change_permission(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount")
    changelist = reverse("admin:energy_energyaccount_changelist")
    client.post(
        changelist,
        {"action": "block", "_selected_action": [account.pk], "apply": "1", "reason": "x"},
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_the_id_tag_page_picks_an_account(account, staff_client) -> None:
    tag = IdTag.objects.get(id_tag="CARD-ROSSI")
    text = (
        staff_client("rfid.change_idtag", "energy.view_energyaccount")
        .get(reverse("admin:rfid_idtag_change", args=[tag.pk]))
        .content.decode()
    )
    assert 'name="account"' in text and "admin-autocomplete" in text


def test_the_admin_speaks_italian(account, staff_client, back_to_english: None) -> None:
    client = staff_client("energy.view_energyaccount", "energy.adjust_balance")
    text = client.get(adjust_url(account), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Rettifica manuale" in text and "motivo" in text


def test_the_drivers_language_is_on_the_account_page(account, staff_client) -> None:
    client = staff_client("energy.view_energyaccount", "energy.change_energyaccount")
    text = client.get(change_url(account)).content.decode()
    assert 'name="language"' in text
    assert '<option value="it">Italiano</option>' in text


def test_held_tariffs_are_listed_read_only(staff_client) -> None:
    station = ChargingStation.objects.create(charger_id="HOLDS", ocpp_version="ocpp2.1")
    HeldTariff.objects.create(station=station, evse_id=0, tariff_id="std-v4")
    url = reverse("admin:energy_heldtariff_changelist")
    assert staff_client().get(url).status_code == 403
    client = staff_client("energy.view_heldtariff")
    text = client.get(url).content.decode()
    assert "std-v4" in text and "HOLDS" in text
    assert client.get(reverse("admin:energy_heldtariff_add")).status_code == 403
