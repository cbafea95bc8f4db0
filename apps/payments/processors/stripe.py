"""Stripe through the official `stripe` package: Checkout Sessions, signed webhooks, refunds.

The library's own client is pointed at settings.STRIPE_API_BASE, so tests run it unchanged
against a local server that speaks Stripe's API.
"""

from __future__ import annotations

import json
from decimal import Decimal

import stripe as stripe_lib
from django.conf import settings

from apps.payments.models import Credentials
from apps.payments.processors.base import (
    ZERO_DECIMAL,
    Checkout,
    Event,
    EventKind,
    PaymentError,
    Refund,
    WebhookError,
    credentials_required,
    minor_units,
)


class StripeProcessor:
    slug = "stripe"
    name = "Stripe"

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def _client(self) -> stripe_lib.StripeClient:
        credentials_required(self.credentials, "secret_key")
        # Stripe's keys say their mode (sk_test_…, sk_live_…, rk_…): a key of the other mode
        # is a mistake in the admin that would move real money in test mode, or none live.
        key = self.credentials.secret_key
        wrong = "_live_" if self.credentials.test_mode else "_test_"
        if wrong in key[:8]:
            mode = "test" if self.credentials.test_mode else "live"
            raise PaymentError(f"the Stripe key saved for {mode} mode is a {wrong.strip('_')} key")
        return stripe_lib.StripeClient(
            self.credentials.secret_key,
            base_addresses={"api": settings.STRIPE_API_BASE},
            http_client=stripe_lib.RequestsClient(timeout=settings.PAYMENTS_TIMEOUT),
            max_network_retries=0,
        )

    def create_topup(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        success_url: str,
        cancel_url: str,
        description: str,
    ) -> Checkout:
        params = {
            "mode": "payment",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "metadata": {"topup": reference},
            "payment_intent_data": {"metadata": {"topup": reference}},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": minor_units(amount, currency),
                        "product_data": {"name": description},
                    },
                }
            ],
        }
        try:
            session = self._client().v1.checkout.sessions.create(params)  # type: ignore[arg-type]
        except stripe_lib.StripeError as exc:
            raise PaymentError(f"Stripe refused the checkout: {exc.user_message or exc}") from exc
        if not session.url:
            raise PaymentError("Stripe answered a checkout without a URL")
        return Checkout(url=session.url, external_id=session.id)

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> Event:
        credentials_required(self.credentials, "webhook_secret")
        signature = headers.get("stripe-signature", "")
        if not signature:
            raise WebhookError("no Stripe-Signature header")
        try:
            # The check Webhook.construct_event makes, without its object building (which
            # fails on a signed payload that is not an event object).
            stripe_lib.WebhookSignature.verify_header(
                body.decode("utf-8"),
                signature,
                self.credentials.webhook_secret,
                tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
            )
        except stripe_lib.SignatureVerificationError as exc:
            raise WebhookError(f"bad Stripe signature: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise WebhookError(f"unreadable Stripe event: {exc}") from exc
        # Verified: read the payload as plain JSON (what Stripe documents), not library objects.
        try:
            payload = json.loads(body)
            obj = payload["data"]["object"]
            event_type = str(payload["type"])
            event_id = str(payload["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookError(f"unreadable Stripe event: {exc}") from exc
        if not isinstance(obj, dict):
            raise WebhookError("unreadable Stripe event: data.object is not an object")
        return _event(event_id, event_type, obj)

    def refund(self, *, payment_ref: str, amount: Decimal, currency: str) -> Refund:
        if not payment_ref:
            raise PaymentError("this top-up has no Stripe payment to refund")
        try:
            refund = self._client().v1.refunds.create(
                {"payment_intent": payment_ref, "amount": minor_units(amount, currency)},
                {"idempotency_key": f"refund-{payment_ref}"},
            )
        except stripe_lib.StripeError as exc:
            raise PaymentError(f"Stripe refused the refund: {exc.user_message or exc}") from exc
        if refund.status not in {"succeeded", "pending"}:
            raise PaymentError(f"Stripe's refund is {refund.status}")
        return Refund(id=refund.id, status=refund.status or "")


def _event(event_id: str, event_type: str, obj: dict) -> Event:
    """Reduce a verified Stripe event to what a top-up needs."""
    if not event_type.startswith("checkout.session."):
        return Event(id=event_id, kind=EventKind.IGNORED, type=event_type)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    common = {
        "id": event_id,
        "type": event_type,
        "external_id": str(obj.get("id") or ""),
        "payment_ref": str(obj.get("payment_intent") or ""),
        "reference": str(metadata.get("topup") or obj.get("client_reference_id") or ""),
        "currency": str(obj.get("currency") or "").upper(),
    }
    total = obj.get("amount_total")
    if isinstance(total, int):
        exponent = 0 if common["currency"] in ZERO_DECIMAL else 2
        common["amount"] = Decimal(total).scaleb(-exponent)
    paid = obj.get("payment_status") == "paid"
    if event_type in {"checkout.session.completed", "checkout.session.async_payment_succeeded"}:
        # Completed is not paid for delayed methods (SEPA debit): those credit on the later
        # async_payment_succeeded.
        kind = EventKind.PAID if paid else EventKind.PENDING
        return Event(kind=kind, **common)
    if event_type == "checkout.session.async_payment_failed":
        return Event(kind=EventKind.FAILED, reason="payment failed", **common)
    if event_type == "checkout.session.expired":
        return Event(kind=EventKind.FAILED, reason="checkout expired", **common)
    return Event(kind=EventKind.IGNORED, **common)
