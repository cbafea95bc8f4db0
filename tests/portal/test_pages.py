"""Self-service pages: an owner sees their own accounts and receipts, and nobody else's."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from apps.energy.models import EnergyAccount, EntryKind
from apps.energy.services import ledger_post
from apps.transactions.models import Transaction
from tests.personas import grant
from tests.portal.conftest import PASSWORD


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice.user)
    return client


def test_the_list_shows_only_the_users_accounts_with_their_balance(as_alice, alice, bob) -> None:
    page = as_alice.get(reverse("portal:accounts"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Alice EV" in body and "36.51 EUR" in body  # 50 topped up, 13.49 charged
    assert "Bob EV" not in body


def test_the_account_page_shows_sessions_ledger_cards_reservations(as_alice, alice) -> None:
    page = as_alice.get(reverse("portal:account", args=[alice.account.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    for expected in (
        "Piazza Duomo",
        "12.345",  # kWh
        "13.49 EUR",  # the session's cost
        "-13.49 EUR",  # its ledger debit
        "50.00 EUR",  # the top-up
        "ALICE-0001",
        "alice&#x27;s card",
        reverse("portal:receipt", args=[alice.charge.pk]),
        reverse("portal:receipt", args=[alice.topup.pk]),
    ):
        assert expected in body, expected
    assert "Accepted" in body  # the reservation's status


def test_an_adjustment_has_no_receipt_link(as_alice, alice) -> None:
    entry, _ = ledger_post(
        account=alice.account, kind=EntryKind.ADJUSTMENT, amount=1, reason="goodwill"
    )
    body = as_alice.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert "goodwill" in body
    assert reverse("portal:receipt", args=[entry.pk]) not in body
    assert as_alice.get(reverse("portal:receipt", args=[entry.pk])).status_code == 404


def test_another_users_account_and_receipt_are_404(as_alice, alice, bob) -> None:
    assert as_alice.get(reverse("portal:account", args=[bob.account.pk])).status_code == 404
    assert as_alice.get(reverse("portal:receipt", args=[bob.charge.pk])).status_code == 404
    assert as_alice.get(reverse("portal:receipt", args=[bob.topup.pk])).status_code == 404
    # An account nobody owns, and ids that do not exist, look the same.
    orphan = EnergyAccount.objects.create(name="Fleet")
    assert as_alice.get(reverse("portal:account", args=[orphan.pk])).status_code == 404
    assert as_alice.get(reverse("portal:account", args=[999_999])).status_code == 404


def test_staff_see_only_their_own_accounts_here_too(client, alice, operator) -> None:
    client.force_login(operator)
    assert "Alice EV" not in client.get(reverse("portal:accounts")).content.decode()
    assert client.get(reverse("portal:account", args=[alice.account.pk])).status_code == 404


def test_the_owner_downloads_their_receipt(as_alice, alice) -> None:
    response = as_alice.get(reverse("portal:receipt", args=[alice.charge.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"R2026-{alice.charge.pk:06d}" in response["Content-Disposition"]
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "13.49 EUR" in text


@pytest.mark.parametrize("name", ["portal:accounts", "portal:account", "portal:receipt"])
def test_anonymous_users_are_sent_to_the_login(client, alice, name) -> None:
    url = reverse(name) if name == "portal:accounts" else reverse(name, args=[alice.charge.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login") + "?next=")


def test_a_non_staff_owner_logs_in_on_the_portal_page(client, alice) -> None:
    page = client.get(reverse("portal:login"))
    assert page.status_code == 200
    response = client.post(
        reverse("portal:login"),
        {"username": "alice", "password": PASSWORD, "next": reverse("portal:accounts")},
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:accounts")
    assert "Alice EV" in client.get(reverse("portal:accounts")).content.decode()


def test_a_wrong_password_does_not_log_in(client, alice) -> None:
    response = client.post(
        reverse("portal:login"),
        {"username": "alice", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 200
    assert client.get(reverse("portal:accounts")).status_code == 302


def test_the_pages_speak_italian(as_alice, alice) -> None:
    body = as_alice.get(
        reverse("portal:account", args=[alice.account.pk]), HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    for expected in ("Saldo", "Sessioni di ricarica", "Estratto conto", "Tessere", "13,49 EUR"):
        assert expected in body, expected
    assert "Charging sessions" not in body
    response = as_alice.get(
        reverse("portal:receipt", args=[alice.charge.pk]), HTTP_ACCEPT_LANGUAGE="it"
    )
    assert "Ricevuta" in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_operators_download_any_receipt_from_the_admin(client, alice, bob, operator) -> None:
    client.force_login(operator)
    listing = client.get(reverse("admin:portal_receipt_changelist")).content.decode()
    url = reverse("admin:portal_receipt_pdf", args=[bob.charge.pk])
    assert url in listing and f"R2026-{alice.topup.pk:06d}" in listing
    response = client.get(url)
    assert response.status_code == 200
    assert "tx-bob-1" in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_the_admin_download_needs_the_view_permission(client, alice) -> None:
    user = get_user_model().objects.create_user("clerk", password=PASSWORD, is_staff=True)
    client.force_login(user)
    url = reverse("admin:portal_receipt_pdf", args=[alice.charge.pk])
    assert client.get(url).status_code == 403
    # A session's receipt also needs its station's site (here: none, so all sites).
    grant(user, "portal.view_receipt", "chargers.all_sites")
    assert client.get(url).status_code == 200


def test_the_portal_login_locks_a_guessing_address_out(client, alice, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    url = reverse("portal:login")
    for _attempt in range(3):
        client.post(url, {"username": "alice", "password": "guess"}, REMOTE_ADDR="10.0.0.9")
    # Locked out now: even the right password is refused from that address.
    response = client.post(url, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert client.get(reverse("portal:accounts")).status_code == 302


def test_the_account_page_costs_the_same_queries_for_more_rows(as_alice, alice) -> None:
    url = reverse("portal:account", args=[alice.account.pk])
    with CaptureQueriesContext(connection) as few:
        as_alice.get(url)
    for n in range(5):
        session = Transaction.objects.create(
            station=alice.session.station,
            connector=alice.session.connector,
            transaction_id=f"more-{n}",
            started_at=alice.session.started_at,
            account=alice.account,
            tariff=alice.tariff,
            cost=1,
        )
        ledger_post(
            account=alice.account, kind=EntryKind.CHARGE, amount=-1, reference=f"tx:{session.pk}"
        )
    with CaptureQueriesContext(connection) as many:
        body = as_alice.get(url).content.decode()
    # A receipt link on each of the 6 charged sessions and on the 7 entries (6 charges, 1 top-up).
    assert body.count(">PDF<") == 6 + 7
    assert len(many) == len(few)
