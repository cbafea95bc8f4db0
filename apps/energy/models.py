"""Energy accounts, their ledger, and tariffs (docs/billing.md).

An account's balance is the sum of its ledger entries; entries are never changed or deleted
(a mistake is corrected by another entry). `EnergyAccount.balance` is that sum kept beside the
account, written in the same database transaction as each entry (`apps.energy.services`).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    BLOCKED = "blocked", _("blocked")
    CLOSED = "closed", _("closed")


class AccountUnit(models.TextChoices):
    MONEY = "money", _("money (site currency)")
    KWH = "kwh", _("energy credit (kWh)")


class EnergyAccount(models.Model):
    """Who pays for charging: a person or an organisation, with cards and a balance."""

    name = models.CharField(_("name"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="energy_accounts",
    )
    organisation = models.CharField(_("organisation"), max_length=120, blank=True)
    unit = models.CharField(
        _("unit"), max_length=8, choices=AccountUnit.choices, default=AccountUnit.MONEY
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    balance = models.DecimalField(
        _("balance"), max_digits=14, decimal_places=4, default=Decimal("0"), editable=False
    )
    credit_limit = models.DecimalField(
        _("credit limit"),
        max_digits=14,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("How far below zero the balance may go before charging is refused."),
    )
    group = models.CharField(
        _("tariff group"),
        max_length=40,
        blank=True,
        help_text=_("Accounts of a group get the tariffs made for that group."),
    )
    language = models.CharField(
        _("driver's language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_(
            "The language of the messages OCPP 2.x stations show the account's drivers "
            "(prices, totals). Empty: the node's language."
        ),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    status_reason = models.CharField(_("status reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("energy account")
        verbose_name_plural = _("energy accounts")
        permissions = [("adjust_balance", _("Can adjust an account's balance by hand"))]

    def __str__(self) -> str:
        return self.name

    @property
    def driver_language(self) -> str:
        """Return the language the account's drivers are addressed in (never empty)."""
        return self.language or settings.LANGUAGE_CODE


class EntryKind(models.TextChoices):
    CHARGE = "charge", _("charging session")
    TOPUP = "topup", _("top-up")
    REFUND = "refund", _("refund")
    ADJUSTMENT = "adjustment", _("manual adjustment")


class LedgerEntry(models.Model):
    """One credit (positive) or debit (negative) of an account; never changed once written.

    `reference` makes an entry idempotent: one entry per (account, kind, reference) — a
    session's charge ("tx:<pk>"), a processor's payment ("stripe:<id>") — so a replayed
    StopTransaction or webhook finds the entry already there.
    """

    account = models.ForeignKey(
        EnergyAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=4)
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    balance_after = models.DecimalField(_("balance after"), max_digits=14, decimal_places=4)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="energy_entry_once_per_reference",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("ledger entries are never changed; write a new entry")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("ledger entries are never deleted; write a new entry")


class Tariff(models.Model):
    """One version of a tariff: prices that apply from `valid_from` until a newer version.

    Versions of one tariff share `code`; a session keeps the version it was priced with.
    Where a station has no tariff of its own the default one (no station) applies; an
    account's group picks the versions made for that group first.
    """

    code = models.SlugField(_("code"), max_length=40)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=120)
    station = models.ForeignKey(
        "chargers.ChargingStation",
        verbose_name=_("station"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tariffs",
        help_text=_("Empty: every station without a tariff of its own."),
    )
    group = models.CharField(_("account group"), max_length=40, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    energy_price = models.DecimalField(
        _("energy price per kWh"), max_digits=10, decimal_places=4, default=Decimal("0")
    )
    time_price = models.DecimalField(
        _("time price per minute"), max_digits=10, decimal_places=4, default=Decimal("0")
    )
    idle_price = models.DecimalField(
        _("idle fee per minute"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("Charged while the car stays plugged in without drawing power."),
    )
    idle_grace_minutes = models.PositiveIntegerField(_("idle grace (minutes)"), default=0)
    session_fee = models.DecimalField(
        _("session fee"), max_digits=10, decimal_places=4, default=Decimal("0")
    )
    vat_percent = models.DecimalField(
        _("VAT %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    bands = models.JSONField(
        _("time-of-day bands"),
        default=list,
        blank=True,
        help_text=_(
            'Energy prices by local time of day, e.g. [{"from": "22:00", "to": "06:00", '
            '"energy_price": "0.20"}]; outside every band the energy price above applies.'
        ),
    )
    valid_from = models.DateTimeField(_("valid from"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="energy_tariff_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class HeldTariff(models.Model):
    """A default tariff an OCPP 2.1 station holds, as its answers to our tariff messages say.

    Written when the station accepts a SetDefaultTariff, replaced by what it reports to
    GetTariffs, removed when it clears the tariff (ClearTariffs). `tariff` is the version the
    tariff id names when it is one of ours (`tariff_version`).
    """

    station = models.ForeignKey(
        "chargers.ChargingStation",
        verbose_name=_("station"),
        on_delete=models.CASCADE,
        related_name="held_tariffs",
    )
    evse_id = models.PositiveIntegerField(_("EVSE (0: all)"), default=0)
    tariff_id = models.CharField(_("tariff id"), max_length=60)
    tariff_version = models.ForeignKey(
        Tariff,
        verbose_name=_("tariff version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="held_by",
    )
    kind = models.CharField(_("kind"), max_length=16, default="DefaultTariff")
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tariff held by a station")
        verbose_name_plural = _("tariffs held by stations")
        ordering = ["station", "evse_id", "tariff_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "evse_id", "tariff_id"], name="energy_held_tariff_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tariff_id} @ {self.evse_id}"
