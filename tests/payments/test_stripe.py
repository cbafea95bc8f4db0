"""Stripe top-ups: the official client against a local server that speaks Stripe's API."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from apps.energy.models import EntryKind, LedgerEntry
from apps.energy.selectors import account_ledger_balance
from apps.payments.models import TopUp, TopUpStatus
from apps.payments.processors.base import PaymentError
from apps.payments.services import FORGED_WEBHOOK, topup_refund, topup_start
from apps.security.models import SecurityEvent
from tests.payments.conftest import (
    STRIPE_LIVE_KEY,
    STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
    balance,
)
from tests.payments.providers import stripe_signature

URL = "/payments/webhooks/stripe/"


def start(account, amount: str = "25.00") -> TopUp:
    url = topup_start(
        account=account,
        amount=amount,
        processor="stripe",
        success_url="https://csms.example/portal/ok",
        cancel_url="https://csms.example/portal/cancel",
    )
    topup = TopUp.objects.get(account=account)
    assert url == f"https://checkout.stripe.com/c/pay/{topup.external_id}"
    return topup


def deliver(client, body: bytes, signature: str | None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_it_opens_a_checkout_session_and_credits_only_when_paid(
    client, provider, stripe_config, account
) -> None:
    topup = start(account)
    session = provider.sessions[topup.external_id]
    assert session["amount_total"] == 2500 and session["currency"] == "eur"
    assert session["metadata"] == {"topup": str(topup.pk)}
    assert balance(account) == 0

    # Completed but not yet paid (a delayed method): nothing is credited.
    body = provider.stripe_event("checkout.session.completed", topup.external_id, paid=False)
    assert deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET)).status_code == 200
    assert balance(account) == 0
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PENDING

    body = provider.stripe_event("checkout.session.async_payment_succeeded", topup.external_id)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.status_code == 200 and response.json() == {"outcome": "credited"}
    assert balance(account) == Decimal("25") == account_ledger_balance(account=account)
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PAID and topup.paid_at is not None
    assert topup.payment_ref.startswith("pi_")
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.reference) == (EntryKind.TOPUP, f"stripe:{topup.external_id}")


def test_a_replayed_webhook_credits_once(client, provider, stripe_config, account) -> None:
    topup = start(account)
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    signature = stripe_signature(body, STRIPE_WEBHOOK_SECRET)
    assert deliver(client, body, signature).json() == {"outcome": "credited"}
    assert deliver(client, body, signature).json() == {"outcome": "replayed"}
    # A fresh event about the same session (Stripe retries with new signatures) too.
    again = provider.stripe_event("checkout.session.completed", topup.external_id)
    assert deliver(client, again, stripe_signature(again, STRIPE_WEBHOOK_SECRET)).json() == {
        "outcome": "replayed"
    }
    assert balance(account) == Decimal("25")
    assert LedgerEntry.objects.filter(account=account).count() == 1


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong secret", "tampered body", "stale timestamp", "garbage header"],
)
def test_a_forged_webhook_is_refused_with_a_security_event(
    client, provider, stripe_config, account, how
) -> None:
    topup = start(account)
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    signature: str | None = stripe_signature(body, STRIPE_WEBHOOK_SECRET)
    if how == "unsigned":
        signature = None
    elif how == "wrong secret":
        signature = stripe_signature(body, "whsec_guess")
    elif how == "tampered body":
        payload = json.loads(body)
        payload["data"]["object"]["amount_total"] = 999999
        body = json.dumps(payload).encode()
    elif how == "stale timestamp":
        signature = stripe_signature(body, STRIPE_WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
    else:
        signature = "t=abc,v1=zz"
    response = deliver(client, body, signature)
    assert response.status_code == 400
    assert "webhook refused" in response.json()["error"]
    assert balance(account) == 0
    assert not LedgerEntry.objects.exists()
    event = SecurityEvent.objects.get(event_type=FORGED_WEBHOOK)
    assert event.source == SecurityEvent.Source.CSMS and "stripe" in event.tech_info
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PENDING


@pytest.mark.parametrize(
    "event_type", ["checkout.session.async_payment_failed", "checkout.session.expired"]
)
def test_a_failed_payment_credits_nothing(
    client, provider, stripe_config, account, event_type
) -> None:
    topup = start(account)
    body = provider.stripe_event(event_type, topup.external_id, paid=False)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.json() == {"outcome": "failed"}
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.FAILED and topup.status_reason
    assert balance(account) == 0 and not LedgerEntry.objects.exists()


def test_a_refund_debits_once(client, provider, stripe_config, account) -> None:
    topup = start(account, "40")
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    topup.refresh_from_db()
    assert topup_refund(topup=topup, by="operator") == "refunded"
    assert provider.refunds[-1]["payment_intent"] == topup.payment_ref
    assert provider.refunds[-1]["amount"] == 4000
    assert topup.status == TopUpStatus.REFUNDED
    assert topup_refund(topup=topup, by="operator") == "replayed"
    assert len(provider.refunds) == 1
    assert balance(account) == 0 == account_ledger_balance(account=account)
    refund = LedgerEntry.objects.get(account=account, kind=EntryKind.REFUND)
    assert refund.amount == Decimal("-40") and refund.created_by == "operator"


def test_test_mode_picks_the_test_key(provider, stripe_config, account) -> None:
    start(account)
    assert provider.calls[-1][2] == f"Bearer {STRIPE_TEST_KEY}"
    stripe_config.test_mode = False
    stripe_config.save()
    TopUp.objects.all().delete()
    start(account)
    assert provider.calls[-1][2] == f"Bearer {STRIPE_LIVE_KEY}"
    assert TopUp.objects.get().test_mode is False


def test_a_refused_key_fails_the_topup_clearly(provider, stripe_config, account) -> None:
    provider.stripe_keys.clear()
    with pytest.raises(PaymentError, match="Stripe refused the checkout"):
        start(account)
    assert TopUp.objects.get().status == TopUpStatus.FAILED


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "10.001", "100000", "NaN"])
def test_it_refuses_a_bad_amount(provider, stripe_config, account, amount) -> None:
    with pytest.raises(PaymentError):
        start(account, amount)
    assert not TopUp.objects.exists() and provider.calls == []


def test_a_disabled_processor_is_not_offered(provider, stripe_config, paypal_config) -> None:
    from apps.payments.services import payments_available

    assert payments_available() == [("paypal", "PayPal"), ("stripe", "Stripe")]
    stripe_config.enabled = False
    stripe_config.save()
    assert payments_available() == [("paypal", "PayPal")]


def test_the_webhook_takes_post_only(client, stripe_config) -> None:
    assert client.get(URL).status_code == 405


def test_a_signed_event_of_another_amount_credits_nothing(
    client, provider, stripe_config, account
) -> None:
    topup = start(account, "25")
    provider.sessions[topup.external_id]["amount_total"] = 100
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.json() == {"outcome": "mismatch"}
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PENDING and "expected 25" in topup.status_reason
    assert balance(account) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": []}},
        {"id": "evt_2", "type": "checkout.session.completed", "data": "x"},
        {"id": "evt_3", "type": "checkout.session.completed", "data": {"object": {"metadata": 7}}},
        [1, 2],
    ],
)
def test_an_oddly_shaped_signed_event_does_not_crash(
    client, provider, stripe_config, account, payload
) -> None:
    body = json.dumps(payload).encode()
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.status_code in {200, 400}
    assert balance(account) == 0


def test_a_disabled_processor_answers_503_and_credits_nothing(
    client, provider, stripe_config, account
) -> None:
    topup = start(account)
    stripe_config.enabled = False
    stripe_config.save()
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.status_code == 503 and balance(account) == 0


def test_a_kwh_account_is_not_topped_up_with_money(provider, stripe_config, db) -> None:
    from apps.energy.models import EnergyAccount

    kwh = EnergyAccount.objects.create(name="Fleet", unit="kwh")
    with pytest.raises(PaymentError, match="kWh"):
        start(kwh)
    assert provider.calls == []


def test_a_topup_whose_session_id_was_not_saved_is_found_by_its_metadata(
    client, provider, stripe_config, account
) -> None:
    topup = start(account)
    session_id = topup.external_id
    TopUp.objects.filter(pk=topup.pk).update(external_id="")
    body = provider.stripe_event("checkout.session.completed", session_id)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.json() == {"outcome": "credited"}
    topup.refresh_from_db()
    assert topup.external_id == session_id and balance(account) == Decimal("25")


def test_a_session_that_is_not_the_topups_credits_nothing(
    client, provider, stripe_config, account
) -> None:
    topup = start(account)
    topup_start(
        account=account,
        amount="25",
        processor="stripe",
        success_url="https://csms.example/ok",
        cancel_url="https://csms.example/no",
    )
    second = TopUp.objects.exclude(pk=topup.pk).get()
    # A genuine session naming the first top-up but not its session: not the first top-up's.
    provider.sessions[second.external_id]["metadata"] = {"topup": str(topup.pk)}
    provider.sessions[second.external_id]["client_reference_id"] = str(topup.pk)
    TopUp.objects.filter(pk=second.pk).update(external_id="cs_lost")
    body = provider.stripe_event("checkout.session.completed", second.external_id)
    response = deliver(client, body, stripe_signature(body, STRIPE_WEBHOOK_SECRET))
    assert response.json() == {"outcome": "unknown"}
    assert balance(account) == 0


def test_a_key_of_the_other_mode_is_refused(provider, stripe_config, account) -> None:
    stripe_config.set_secret("test_secret_key", STRIPE_LIVE_KEY)
    stripe_config.save()
    with pytest.raises(PaymentError, match="test mode is a live key"):
        start(account)
    assert provider.calls == []
