"""PayPal top-ups: our REST client against a local server that speaks PayPal's API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.energy.models import EntryKind, LedgerEntry
from apps.energy.selectors import account_ledger_balance
from apps.payments.models import TopUp, TopUpStatus
from apps.payments.services import FORGED_WEBHOOK, topup_refund, topup_start
from apps.security.models import SecurityEvent
from tests.payments.conftest import (
    PAYPAL_CLIENT,
    PAYPAL_LIVE_CLIENT,
    PAYPAL_WEBHOOK_ID,
    balance,
)

URL = "/payments/webhooks/paypal/"


def start(account, amount: str = "30.00") -> tuple[TopUp, str]:
    url = topup_start(
        account=account,
        amount=amount,
        processor="paypal",
        success_url="https://csms.example/portal/ok",
        cancel_url="https://csms.example/portal/cancel",
    )
    topup = TopUp.objects.get(account=account)
    assert url == f"https://www.sandbox.paypal.com/checkoutnow?token={topup.external_id}"
    return topup, url


def capture_event(provider, topup: TopUp, event_type: str = "PAYMENT.CAPTURE.COMPLETED") -> dict:
    order = provider.orders[topup.external_id]
    return {
        "id": f"WH-{event_type}-{topup.external_id}",
        "event_version": "1.0",
        "resource_type": "capture",
        "event_type": event_type,
        "resource": {
            "id": order.get("capture_id", "CAPX"),
            "status": "COMPLETED" if event_type.endswith("COMPLETED") else "DECLINED",
            "amount": order["unit"]["amount"],
            "custom_id": order["unit"]["custom_id"],
            "supplementary_data": {"related_ids": {"order_id": topup.external_id}},
        },
    }


def deliver(client, body: bytes, headers: dict[str, str]):
    extra = {f"HTTP_{name.replace('-', '_')}": value for name, value in headers.items()}
    return client.post(URL, data=body, content_type="application/json", **extra)


def test_it_creates_an_order_and_credits_after_capture_on_return(
    client, provider, paypal_config, account
) -> None:
    topup, _ = start(account)
    order = provider.orders[topup.external_id]
    assert order["mode"] == "/sandbox"
    assert order["unit"]["amount"] == {"currency_code": "EUR", "value": "30.00"}
    assert order["unit"]["custom_id"] == str(topup.pk)
    return_url = f"/payments/paypal/return/{topup.pk}/?token={topup.external_id}"

    # Back before approving (or after a cancel): PayPal refuses the capture, nothing credited.
    response = client.get(return_url)
    assert response.status_code == 302 and response["Location"] == "https://csms.example/portal/ok"
    assert balance(account) == 0

    provider.paypal_approve(topup.external_id)
    client.get(return_url)
    assert balance(account) == Decimal("30") == account_ledger_balance(account=account)
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PAID and topup.payment_ref == order["capture_id"]

    # PayPal's own PAYMENT.CAPTURE.COMPLETED webhook, and the payer reloading the page: once.
    body, headers = provider.paypal_sign(
        capture_event(provider, topup), webhook_id=PAYPAL_WEBHOOK_ID
    )
    assert deliver(client, body, headers).json() == {"outcome": "replayed"}
    assert deliver(client, body, headers).json() == {"outcome": "replayed"}
    client.get(return_url)
    assert balance(account) == Decimal("30")
    assert LedgerEntry.objects.filter(account=account).count() == 1


def test_a_signed_capture_webhook_credits_once(client, provider, paypal_config, account) -> None:
    topup, _ = start(account)
    provider.paypal_approve(topup.external_id)
    approved = {
        "id": "WH-APPROVED",
        "event_type": "CHECKOUT.ORDER.APPROVED",
        "resource": {"id": topup.external_id, "status": "APPROVED"},
    }
    body, headers = provider.paypal_sign(approved, webhook_id=PAYPAL_WEBHOOK_ID)
    # The payer closed the tab before returning: the approval webhook captures.
    assert deliver(client, body, headers).json() == {"outcome": "credited"}
    assert deliver(client, body, headers).json() == {"outcome": "unchanged"}
    assert balance(account) == Decimal("30")


@pytest.mark.parametrize("how", ["unsigned", "other key", "tampered body", "other webhook id"])
def test_a_forged_webhook_is_refused_with_a_security_event(
    client, provider, paypal_config, account, how
) -> None:
    topup, _ = start(account)
    provider.paypal_approve(topup.external_id)
    provider.orders[topup.external_id]["capture_id"] = "CAPFORGED"
    event = capture_event(provider, topup)
    if how == "other key":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        body, headers = provider.paypal_sign(event, webhook_id=PAYPAL_WEBHOOK_ID, key=key)
    elif how == "other webhook id":
        body, headers = provider.paypal_sign(event, webhook_id="WH-SOMEONE-ELSE")
    else:
        body, headers = provider.paypal_sign(event, webhook_id=PAYPAL_WEBHOOK_ID)
    if how == "unsigned":
        headers = {}
    elif how == "tampered body":
        body = body.replace(b'"30.00"', b'"3000.00"')
    response = deliver(client, body, headers)
    assert response.status_code == 400 and "webhook refused" in response.json()["error"]
    assert balance(account) == 0 and not LedgerEntry.objects.exists()
    assert SecurityEvent.objects.filter(event_type=FORGED_WEBHOOK).count() == 1


def test_a_declined_payment_credits_nothing(client, provider, paypal_config, account) -> None:
    topup, _ = start(account)
    provider.paypal_approve(topup.external_id, decline=True)
    client.get(f"/payments/paypal/return/{topup.pk}/?token={topup.external_id}")
    assert balance(account) == 0
    body, headers = provider.paypal_sign(
        capture_event(provider, topup, "PAYMENT.CAPTURE.DENIED"), webhook_id=PAYPAL_WEBHOOK_ID
    )
    assert deliver(client, body, headers).json() == {"outcome": "failed"}
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.FAILED
    assert balance(account) == 0 and not LedgerEntry.objects.exists()


def test_a_refund_debits_once(client, provider, paypal_config, account) -> None:
    topup, _ = start(account, "12.50")
    provider.paypal_approve(topup.external_id)
    client.get(f"/payments/paypal/return/{topup.pk}/?token={topup.external_id}")
    topup.refresh_from_db()
    assert topup_refund(topup=topup, by="operator") == "refunded"
    assert provider.refunds[-1]["amount"] == {"currency_code": "EUR", "value": "12.50"}
    # PayPal then notifies the refund: nothing more happens.
    refund = provider.refunds[-1]
    body, headers = provider.paypal_sign(
        {
            "id": "WH-REFUNDED",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "resource": {
                "id": refund["id"],
                "status": "COMPLETED",
                "amount": refund["amount"],
                "links": refund["links"],
            },
        },
        webhook_id=PAYPAL_WEBHOOK_ID,
    )
    assert deliver(client, body, headers).json() == {"outcome": "replayed"}
    assert balance(account) == 0 == account_ledger_balance(account=account)
    assert LedgerEntry.objects.get(kind=EntryKind.REFUND).amount == Decimal("-12.50")


def test_test_mode_picks_the_sandbox_and_test_client(provider, paypal_config, account) -> None:
    start(account)
    token_calls = [call for call in provider.calls if call[1].endswith("/v1/oauth2/token")]
    assert token_calls[-1][1] == "/sandbox/v1/oauth2/token"
    paypal_config.test_mode = False
    paypal_config.save()
    TopUp.objects.all().delete()
    topup_start(
        account=account,
        amount="5",
        processor="paypal",
        success_url="https://csms.example/ok",
        cancel_url="https://csms.example/no",
    )
    assert provider.orders[TopUp.objects.get().external_id]["mode"] == "/live"
    import base64

    basic = [c[2] for c in provider.calls if c[1] == "/live/v1/oauth2/token"][-1]
    assert (
        base64.b64decode(basic.removeprefix("Basic ")).decode().startswith(f"{PAYPAL_LIVE_CLIENT}:")
    )
    assert PAYPAL_CLIENT != PAYPAL_LIVE_CLIENT


@pytest.mark.parametrize(
    "event",
    [
        {"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": "x"},
        {"id": "WH-2", "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource": {"links": "x"}},
        {"id": "WH-3", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {"amount": [1]}},
        {"id": "WH-4", "event_type": "SOMETHING.ELSE"},
    ],
)
def test_an_oddly_shaped_signed_event_does_not_crash(
    client, provider, paypal_config, account, event
) -> None:
    body, headers = provider.paypal_sign(event, webhook_id=PAYPAL_WEBHOOK_ID)
    response = deliver(client, body, headers)
    assert response.status_code == 200
    assert response.json()["outcome"] in {"unknown", "ignored"}
    assert balance(account) == 0
