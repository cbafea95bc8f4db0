"""PayPal through its REST API with `requests`: Orders v2, webhook verification, refunds.

Base URL from settings (PAYPAL_API_BASE live, PAYPAL_SANDBOX_API_BASE in test mode) so
tests run this code unchanged against a local server that speaks PayPal's API.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from apps.payments.models import Credentials
from apps.payments.processors.base import (
    Checkout,
    Event,
    EventKind,
    PaymentError,
    Refund,
    WebhookError,
    credentials_required,
    major_units,
)

# PayPal's transmission headers a genuine webhook carries (lower case, as Django's
# request.headers normalises them for our lookup).
SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


class PayPalProcessor:
    slug = "paypal"
    name = "PayPal"

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.base = (
            settings.PAYPAL_SANDBOX_API_BASE if credentials.test_mode else settings.PAYPAL_API_BASE
        ).rstrip("/")
        self.session = requests.Session()

    # -- HTTP -------------------------------------------------------------------------------
    def _token(self) -> str:
        credentials_required(self.credentials, "client_id", "secret_key")
        try:
            response = self.session.post(
                f"{self.base}/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.credentials.client_id, self.credentials.secret_key),
                headers={"Accept": "application/json"},
                timeout=settings.PAYMENTS_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise PaymentError(f"PayPal is not reachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PaymentError(f"PayPal refused our credentials (HTTP {response.status_code})")
        token = _json(response).get("access_token")
        if not token:
            raise PaymentError("PayPal answered no access token")
        return str(token)

    def _call(self, method: str, path: str, body: dict[str, Any], *, request_id: str = "") -> Any:
        headers = {"Authorization": f"Bearer {self._token()}", "Content-Type": "application/json"}
        if request_id:
            # PayPal-Request-Id makes a retried POST idempotent on PayPal's side.
            headers["PayPal-Request-Id"] = request_id
        try:
            response = self.session.request(
                method,
                f"{self.base}{path}",
                data=json.dumps(body),
                headers=headers,
                timeout=settings.PAYMENTS_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise PaymentError(f"PayPal is not reachable: {type(exc).__name__}") from exc
        payload = _json(response)
        if response.status_code >= 400:
            detail = payload.get("message") or payload.get("name") or response.reason
            raise PaymentError(f"PayPal refused {path} (HTTP {response.status_code}): {detail}")
        return payload

    # -- the contract -----------------------------------------------------------------------
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
        order = self._call(
            "POST",
            "/v2/checkout/orders",
            {
                "intent": "CAPTURE",
                "purchase_units": [
                    {
                        "reference_id": reference,
                        "custom_id": reference,
                        "description": description[:127],
                        "amount": {
                            "currency_code": currency.upper(),
                            "value": major_units(amount, currency),
                        },
                    }
                ],
                "payment_source": {
                    "paypal": {
                        "experience_context": {
                            "return_url": success_url,
                            "cancel_url": cancel_url,
                            "user_action": "PAY_NOW",
                        }
                    }
                },
            },
        )
        links = {
            _dict(link).get("rel"): _dict(link).get("href")
            for link in (order.get("links") if isinstance(order.get("links"), list) else [])
        }
        url = links.get("payer-action") or links.get("approve")
        if not order.get("id") or not url:
            raise PaymentError("PayPal answered an order without an approval link")
        return Checkout(url=str(url), external_id=str(order["id"]))

    def capture(self, *, order_id: str) -> Event:
        """Capture an approved order; return a paid event when PayPal says COMPLETED."""
        order = self._call(
            "POST", f"/v2/checkout/orders/{order_id}/capture", {}, request_id=f"capture-{order_id}"
        )
        return _order_event(order)

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> Event:
        credentials_required(self.credentials, "webhook_id")
        found = {key: headers.get(header, "") for key, header in SIGNATURE_HEADERS.items()}
        missing = [SIGNATURE_HEADERS[key] for key, value in found.items() if not value]
        if missing:
            raise WebhookError(f"missing PayPal headers: {', '.join(missing)}")
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise WebhookError(f"unreadable PayPal event: {exc}") from exc
        if not isinstance(event, dict):
            raise WebhookError("unreadable PayPal event: not an object")
        try:
            answer = self._call(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                {**found, "webhook_id": self.credentials.webhook_id, "webhook_event": event},
            )
        except PaymentError as exc:
            raise WebhookError(f"PayPal did not verify the signature: {exc}") from exc
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookError(
                f"PayPal says the signature is {answer.get('verification_status') or 'missing'}"
            )
        return _webhook_event(event)

    def refund(self, *, payment_ref: str, amount: Decimal, currency: str) -> Refund:
        if not payment_ref:
            raise PaymentError("this top-up has no PayPal capture to refund")
        answer = self._call(
            "POST",
            f"/v2/payments/captures/{payment_ref}/refund",
            {"amount": {"currency_code": currency.upper(), "value": major_units(amount, currency)}},
            request_id=f"refund-{payment_ref}",
        )
        status = str(answer.get("status") or "")
        if status not in {"COMPLETED", "PENDING"}:
            raise PaymentError(f"PayPal's refund is {status or 'without status'}")
        return Refund(id=str(answer.get("id") or ""), status=status)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _order_event(order: dict[str, Any]) -> Event:
    """Reduce a captured order (Orders v2 answer) to an event."""
    order_id = str(order.get("id") or "")
    unit = _first(order.get("purchase_units"))
    capture = _first(_dict(unit.get("payments")).get("captures"))
    amount = _dict(capture.get("amount"))
    common = {
        "id": f"capture:{order_id}",
        "type": "order.capture",
        "external_id": order_id,
        "payment_ref": str(capture.get("id") or ""),
        "reference": str(unit.get("custom_id") or unit.get("reference_id") or ""),
        "currency": str(amount.get("currency_code") or ""),
        "amount": _decimal(amount.get("value")),
    }
    if order.get("status") == "COMPLETED" and capture.get("status") == "COMPLETED":
        return Event(kind=EventKind.PAID, **common)
    if capture.get("status") in {"DECLINED", "FAILED"}:
        return Event(kind=EventKind.FAILED, reason=f"capture {capture.get('status')}", **common)
    return Event(kind=EventKind.PENDING, **common)


def _webhook_event(event: dict[str, Any]) -> Event:
    """Reduce a verified PayPal webhook event to what a top-up needs."""
    event_type = str(event.get("event_type") or "")
    resource = _dict(event.get("resource"))
    event_id = str(event.get("id") or "")
    if event_type == "CHECKOUT.ORDER.APPROVED":
        return Event(
            id=event_id,
            kind=EventKind.APPROVED,
            type=event_type,
            external_id=str(resource.get("id") or ""),
        )
    if event_type.startswith("PAYMENT.CAPTURE."):
        related = _dict(_dict(resource.get("supplementary_data")).get("related_ids"))
        amount = _dict(resource.get("amount"))
        common = {
            "id": event_id,
            "type": event_type,
            "external_id": str(related.get("order_id") or ""),
            "payment_ref": str(resource.get("id") or ""),
            "reference": str(resource.get("custom_id") or ""),
            "currency": str(amount.get("currency_code") or ""),
            "amount": _decimal(amount.get("value")),
        }
        kinds = {
            "PAYMENT.CAPTURE.COMPLETED": EventKind.PAID,
            "PAYMENT.CAPTURE.DENIED": EventKind.FAILED,
            "PAYMENT.CAPTURE.DECLINED": EventKind.FAILED,
            "PAYMENT.CAPTURE.REFUNDED": EventKind.REFUNDED,
        }
        kind = kinds.get(event_type, EventKind.IGNORED)
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            # The resource of a refund event is the refund; the capture is linked from it.
            links = resource.get("links") if isinstance(resource.get("links"), list) else []
            up = next((_dict(x).get("href") for x in links if _dict(x).get("rel") == "up"), "")
            common["payment_ref"] = str(up or "").rstrip("/").rsplit("/", 1)[-1]
        return Event(kind=kind, reason=event_type.lower(), **common)
    return Event(id=event_id, kind=EventKind.IGNORED, type=event_type)


def _dict(value: object) -> dict[str, Any]:
    """Return `value` if it is an object, else {} (a field of an unexpected shape)."""
    return value if isinstance(value, dict) else {}


def _first(value: object) -> dict[str, Any]:
    """Return the first item of a list of objects, else {}."""
    return _dict(value[0]) if isinstance(value, list) and value else {}


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None
