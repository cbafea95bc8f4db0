"""Payment processors' settings and top-ups of energy accounts (docs/billing.md, payments)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.secrets import secret_decrypt, secret_encrypt
from apps.energy.models import EnergyAccount


class Processor(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    PAYPAL = "paypal", "PayPal"


# Credentials that are never shown again once saved; stored encrypted (apps/core/secrets.py).
SECRET_FIELDS = ("secret_key", "webhook_secret", "test_secret_key", "test_webhook_secret")


@dataclass(frozen=True)
class Credentials:
    """What a processor needs for one mode (live or test); built by ProcessorConfig."""

    test_mode: bool
    secret_key: str
    webhook_secret: str
    client_id: str
    webhook_id: str

    def __repr__(self) -> str:
        # Never let a secret reach a log line or a traceback through repr().
        return f"Credentials(test_mode={self.test_mode}, client_id={self.client_id!r})"


class ProcessorConfig(models.Model):
    """One payment processor's switch, mode and credentials (live and test)."""

    processor = models.CharField(
        _("processor"), max_length=12, choices=Processor.choices, unique=True
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    test_mode = models.BooleanField(
        _("test mode"),
        default=True,
        help_text=_("Use the test credentials (and PayPal's sandbox): no real money moves."),
    )
    client_id = models.CharField(_("client id (PayPal)"), max_length=200, blank=True)
    webhook_id = models.CharField(_("webhook id (PayPal)"), max_length=100, blank=True)
    test_client_id = models.CharField(_("test client id (PayPal)"), max_length=200, blank=True)
    test_webhook_id = models.CharField(_("test webhook id (PayPal)"), max_length=100, blank=True)
    # Encrypted; set through set_secret(), read through credentials().
    secret_key_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("secret key encrypted")
    )
    webhook_secret_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("webhook secret encrypted")
    )
    test_secret_key_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("test secret key encrypted")
    )
    test_webhook_secret_encrypted = models.TextField(
        editable=False, blank=True, verbose_name=_("test webhook secret encrypted")
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment processor")
        verbose_name_plural = _("payment processors")

    def __str__(self) -> str:
        return self.get_processor_display()

    def set_secret(self, name: str, value: str) -> None:
        """Store `value` encrypted as the secret `name` (one of SECRET_FIELDS)."""
        if name not in SECRET_FIELDS:
            raise ValueError(f"not a secret field: {name}")
        setattr(self, f"{name}_encrypted", secret_encrypt(value))

    def has_secret(self, name: str) -> bool:
        return bool(getattr(self, f"{name}_encrypted"))

    def credentials(self) -> Credentials:
        """Return the credentials of the current mode, decrypted."""
        prefix = "test_" if self.test_mode else ""
        return Credentials(
            test_mode=self.test_mode,
            secret_key=secret_decrypt(getattr(self, f"{prefix}secret_key_encrypted")),
            webhook_secret=secret_decrypt(getattr(self, f"{prefix}webhook_secret_encrypted")),
            client_id=getattr(self, f"{prefix}client_id"),
            webhook_id=getattr(self, f"{prefix}webhook_id"),
        )


class TopUpStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    PAID = "paid", _("paid")
    FAILED = "failed", _("failed")
    REFUNDED = "refunded", _("refunded")


class TopUp(models.Model):
    """Money an account owner pays through a processor; credited once the processor confirms."""

    account = models.ForeignKey(
        EnergyAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="topups"
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    processor = models.CharField(_("processor"), max_length=12, choices=Processor.choices)
    test_mode = models.BooleanField(_("test mode"), default=False)
    external_id = models.CharField(
        _("processor's id"),
        max_length=255,
        blank=True,
        help_text=_("Stripe's Checkout Session id, PayPal's order id."),
    )
    payment_ref = models.CharField(
        _("payment reference"),
        max_length=255,
        blank=True,
        help_text=_("Stripe's PaymentIntent id, PayPal's capture id: what a refund names."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TopUpStatus.choices, default=TopUpStatus.PENDING
    )
    status_reason = models.CharField(_("status reason"), max_length=200, blank=True)
    success_url = models.URLField(_("success URL"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("top-up")
        verbose_name_plural = _("top-ups")
        ordering = ["-created_at", "-pk"]
        permissions = [("refund_topup", _("Can refund a top-up through its processor"))]
        constraints = [
            models.UniqueConstraint(
                fields=["processor", "external_id"],
                condition=~models.Q(external_id=""),
                name="payments_topup_external_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.get_processor_display()})"

    @property
    def ledger_reference(self) -> str:
        """The reference of this top-up's ledger entries: one credit, at most one refund."""
        return f"{self.processor}:{self.external_id}"

    @property
    def amount_decimal(self) -> Decimal:
        return Decimal(self.amount)
