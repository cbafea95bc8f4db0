"""The contract every payment processor implements (docs/billing.md, payments).

A processor turns a top-up into a page the payer is sent to (`create_topup`), tells a genuine
notification from a forged one (`verify_webhook`), and gives money back (`refund`). It never
touches the ledger: apps/payments/services.py credits only what a processor has confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from apps.payments.models import Credentials

# Currencies without a minor unit (ISO 4217 exponent 0) that a processor may be asked for.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "HUF", "CLP", "ISK", "TWD", "VND", "XAF", "XOF"})


class PaymentError(Exception):
    """The processor refused a request or could not be reached; the message says why."""


class WebhookError(Exception):
    """A notification that is not genuine: unsigned, forged, stale or unreadable."""


@dataclass(frozen=True)
class Checkout:
    """Where to send the payer, and the processor's id of what they will pay."""

    url: str
    external_id: str


class EventKind:
    PAID = "paid"
    PENDING = "pending"
    FAILED = "failed"
    REFUNDED = "refunded"
    APPROVED = "approved"  # PayPal: the payer approved; we still have to capture
    IGNORED = "ignored"


@dataclass(frozen=True)
class Event:
    """A verified notification, reduced to what the top-up needs."""

    id: str
    kind: str
    external_id: str = ""
    payment_ref: str = ""
    amount: Decimal | None = None
    currency: str = ""
    reference: str = ""  # our top-up id, as we sent it in the checkout's metadata
    type: str = ""
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str


class PaymentProcessor(Protocol):
    slug: str
    name: str

    def create_topup(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        success_url: str,
        cancel_url: str,
        description: str,
    ) -> Checkout: ...

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> Event: ...

    def refund(self, *, payment_ref: str, amount: Decimal, currency: str) -> Refund: ...


def minor_units(amount: Decimal, currency: str) -> int:
    """Return `amount` in the currency's minor unit; refuse fractions the currency has not."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL else 2
    scaled = Decimal(amount).scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise PaymentError(f"{amount} has more decimals than {currency} has")
    return int(scaled)


def major_units(amount: Decimal, currency: str) -> str:
    """Return `amount` as PayPal writes it: "12.50", or "1250" for a zero-decimal currency."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL else 2
    return f"{Decimal(amount):.{exponent}f}"


def credentials_required(credentials: Credentials, *names: str) -> None:
    missing = [name for name in names if not getattr(credentials, name)]
    if missing:
        mode = "test" if credentials.test_mode else "live"
        raise PaymentError(f"missing {mode} credentials: {', '.join(missing)}")
