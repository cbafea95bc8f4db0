"""Top-ups through payment processors (docs/billing.md, payments).

The ledger is credited only for a payment the processor has confirmed — a verified webhook or
PayPal's answer to our capture — and under the reference "<processor>:<external id>", so a
replayed confirmation finds the entry already written.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.core.timeutil import utcnow
from apps.energy.models import AccountStatus, AccountUnit, EnergyAccount, EntryKind
from apps.energy.services import ledger_post
from apps.payments.models import Processor, ProcessorConfig, TopUp, TopUpStatus
from apps.payments.processors.base import (
    Event,
    EventKind,
    PaymentError,
    PaymentProcessor,
    WebhookError,
)
from apps.payments.processors.paypal import PayPalProcessor
from apps.payments.processors.stripe import StripeProcessor
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger("apps.payments")

PROCESSORS: dict[str, type] = {Processor.STRIPE: StripeProcessor, Processor.PAYPAL: PayPalProcessor}
# The security event a refused webhook leaves (SecurityEvent.source CSMS).
FORGED_WEBHOOK = "PaymentWebhookRefused"


def processor_get(*, slug: str) -> PaymentProcessor:
    """Return the enabled processor `slug` with its current credentials."""
    config = ProcessorConfig.objects.filter(processor=slug, enabled=True).first()
    if config is None or slug not in PROCESSORS:
        raise PaymentError(_("Payment processor %(slug)s is not enabled.") % {"slug": slug})
    return PROCESSORS[slug](config.credentials())


def payments_available() -> list[tuple[str, str]]:
    """Return (slug, name) of the enabled processors, for a page that offers top-ups."""
    slugs = ProcessorConfig.objects.filter(enabled=True).values_list("processor", flat=True)
    labels = dict(Processor.choices)
    return [(slug, labels[slug]) for slug in sorted(slugs) if slug in labels]


def _amount_check(amount: Decimal | str, account: EnergyAccount) -> Decimal:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise PaymentError(_("%(amount)s is not an amount.") % {"amount": amount}) from exc
    if not value.is_finite() or value < settings.PAYMENTS_TOPUP_MIN:
        raise PaymentError(
            _("A top-up is at least %(min)s.") % {"min": settings.PAYMENTS_TOPUP_MIN}
        )
    if value > settings.PAYMENTS_TOPUP_MAX:
        raise PaymentError(_("A top-up is at most %(max)s.") % {"max": settings.PAYMENTS_TOPUP_MAX})
    if value != value.quantize(Decimal("0.01")):
        raise PaymentError(_("A top-up has at most two decimals."))
    if account.unit != AccountUnit.MONEY:
        raise PaymentError(_("This account holds kWh credit; it is not topped up with money."))
    if account.status == AccountStatus.CLOSED:
        raise PaymentError(_("This account is closed."))
    return value


def topup_start(
    *,
    account: EnergyAccount,
    amount: Decimal | str,
    processor: str,
    success_url: str,
    cancel_url: str,
    by: AbstractBaseUser | None = None,
) -> str:
    """Open a checkout at `processor` for `amount` of the account's currency; return its URL.

    Nothing is credited here: the top-up stays pending until the processor confirms payment.
    """
    value = _amount_check(amount, account)
    client = processor_get(slug=processor)
    topup = TopUp.objects.create(
        account=account,
        amount=value,
        currency=account.currency.upper(),
        processor=processor,
        test_mode=client.credentials.test_mode,  # type: ignore[attr-defined]
        success_url=success_url,
        created_by=by if by is not None and by.is_authenticated else None,
    )
    return_url = success_url
    if processor == Processor.PAYPAL:
        # PayPal sends the payer back here; we capture the order, then forward to success_url.
        origin = urlsplit(success_url)
        path = reverse("payments:paypal-return", kwargs={"topup": topup.pk})
        return_url = f"{origin.scheme}://{origin.netloc}{path}"
    try:
        checkout = client.create_topup(
            reference=str(topup.pk),
            amount=value,
            currency=topup.currency,
            success_url=return_url,
            cancel_url=cancel_url,
            description=f"Top-up {account.name}",
        )
    except PaymentError as exc:
        topup.status = TopUpStatus.FAILED
        topup.status_reason = str(exc)[:200]
        topup.save(update_fields=["status", "status_reason"])
        raise
    topup.external_id = checkout.external_id
    topup.save(update_fields=["external_id"])
    logger.info("top-up %s for account %s opened at %s", topup.pk, account.pk, processor)
    return checkout.url


def _topup_for(processor: str, event: Event) -> TopUp | None:
    """Find (locked) the top-up an event is about: by the processor's id, else by ours."""
    rows = TopUp.objects.select_for_update().select_related("account")
    if event.external_id:
        topup = rows.filter(processor=processor, external_id=event.external_id).first()
        if topup is not None:
            return topup
    if event.payment_ref:
        topup = rows.filter(processor=processor, payment_ref=event.payment_ref).first()
        if topup is not None:
            return topup
    if event.reference.isdigit() and event.external_id:
        # Ours by the id we sent, but its external id was never saved (the process stopped
        # between the processor's answer and our write): adopt it. A top-up that already has
        # another external id is not this one.
        topup = rows.filter(processor=processor, pk=int(event.reference), external_id="").first()
        if topup is not None:
            topup.external_id = event.external_id
            topup.save(update_fields=["external_id"])
        return topup
    return None


def topup_apply(*, processor: str, event: Event) -> str:
    """Apply a confirmed event to its top-up; return what happened, for the log and answer.

    Runs under a row lock of the top-up, so two deliveries of one event meet in turn; the
    ledger's reference makes the second one write nothing.
    """
    if event.kind in {EventKind.IGNORED, EventKind.PENDING}:
        return event.kind
    if event.kind == EventKind.APPROVED:
        return topup_capture(order_id=event.external_id)
    with transaction.atomic():
        topup = _topup_for(processor, event)
        if topup is None:
            logger.warning("%s event %s names no top-up of ours", processor, event.id)
            return "unknown"
        if event.kind == EventKind.PAID:
            return _credit(topup, event)
        if event.kind == EventKind.FAILED:
            if topup.status == TopUpStatus.PENDING:
                topup.status = TopUpStatus.FAILED
                topup.status_reason = event.reason[:200]
                topup.save(update_fields=["status", "status_reason"])
                return "failed"
            return "unchanged"
        if event.kind == EventKind.REFUNDED:
            return _debit_refund(topup, by=processor)
    return "ignored"


def _credit(topup: TopUp, event: Event) -> str:
    if event.amount is not None and (
        event.amount != topup.amount or event.currency.upper() != topup.currency
    ):
        # A genuine payment of another amount than we asked for: keep it for an operator.
        topup.status_reason = f"paid {event.amount} {event.currency}, expected {topup.amount}"[:200]
        topup.save(update_fields=["status_reason"])
        logger.error("top-up %s: %s", topup.pk, topup.status_reason)
        return "mismatch"
    _, created = ledger_post(
        account=topup.account,
        kind=EntryKind.TOPUP,
        amount=topup.amount,
        reference=topup.ledger_reference,
        reason=f"{topup.get_processor_display()} top-up",
        by=topup.processor,
    )
    if topup.status in {TopUpStatus.PENDING, TopUpStatus.FAILED}:
        topup.status = TopUpStatus.PAID
        topup.paid_at = utcnow()
        topup.status_reason = ""
        if event.payment_ref:
            topup.payment_ref = event.payment_ref
        topup.save(update_fields=["status", "paid_at", "status_reason", "payment_ref"])
    return "credited" if created else "replayed"


def _debit_refund(topup: TopUp, *, by: str) -> str:
    if topup.status not in {TopUpStatus.PAID, TopUpStatus.REFUNDED}:
        return "unchanged"
    _, created = ledger_post(
        account=topup.account,
        kind=EntryKind.REFUND,
        amount=-topup.amount,
        reference=topup.ledger_reference,
        reason=f"{topup.get_processor_display()} refund of a top-up",
        by=by,
    )
    if topup.status != TopUpStatus.REFUNDED:
        topup.status = TopUpStatus.REFUNDED
        topup.refunded_at = utcnow()
        topup.save(update_fields=["status", "refunded_at"])
    return "refunded" if created else "replayed"


def webhook_receive(*, processor: str, headers: dict[str, str], body: bytes) -> str:
    """Verify a processor's notification and apply it; raise WebhookError if not genuine.

    A refused notification leaves a security event (source CSMS, FORGED_WEBHOOK).
    """
    client = processor_get(slug=processor)
    try:
        event = client.verify_webhook(headers={k.lower(): v for k, v in headers.items()}, body=body)
    except WebhookError as exc:
        security_event_record(
            source=SecurityEvent.Source.CSMS,
            event_type=FORGED_WEBHOOK,
            tech_info=f"{processor} webhook refused: {exc}"[:500],
        )
        raise
    outcome = topup_apply(processor=processor, event=event)
    logger.info("%s webhook %s (%s): %s", processor, event.id, event.type, outcome)
    return outcome


def topup_capture(*, order_id: str) -> str:
    """Capture an approved PayPal order and credit it when PayPal says it is completed."""
    topup = TopUp.objects.filter(processor=Processor.PAYPAL, external_id=order_id).first()
    if topup is None or not order_id:
        return "unknown"
    if topup.status != TopUpStatus.PENDING:
        return "unchanged"
    client = processor_get(slug=Processor.PAYPAL)
    assert isinstance(client, PayPalProcessor)
    event = client.capture(order_id=order_id)
    return topup_apply(processor=Processor.PAYPAL, event=event)


def topup_refund(*, topup: TopUp, by: str) -> str:
    """Give a paid top-up back through its processor and debit the account (once)."""
    if topup.status == TopUpStatus.REFUNDED:
        return "replayed"
    if topup.status != TopUpStatus.PAID:
        raise PaymentError(_("Only a paid top-up can be refunded."))
    client = processor_get(slug=topup.processor)
    client.refund(payment_ref=topup.payment_ref, amount=topup.amount, currency=topup.currency)
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().select_related("account").get(pk=topup.pk)
        outcome = _debit_refund(locked, by=by)
    topup.refresh_from_db()
    return outcome
