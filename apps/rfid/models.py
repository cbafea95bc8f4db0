from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuthorizationStatus(models.TextChoices):
    ACCEPTED = "Accepted", _("Accepted")
    BLOCKED = "Blocked", _("Blocked")
    EXPIRED = "Expired", _("Expired")
    INVALID = "Invalid", _("Invalid")
    CONCURRENT_TX = "ConcurrentTx", _("Concurrent transaction")


class IdTag(models.Model):
    """An identifier a driver presents (RFID card, app token); OCPP 1.6 idTag / 2.x idToken."""

    id_tag = models.CharField(_("id tag"), max_length=36, unique=True)
    token_type = models.CharField(
        _("token type"),
        max_length=20,
        default="ISO14443",
        help_text=_("OCPP 2.x idToken type; 1.6 tags are ISO14443 unless known otherwise."),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AuthorizationStatus.choices,
        default=AuthorizationStatus.ACCEPTED,
    )
    expiry_date = models.DateTimeField(_("expiry date"), null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent id tag"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
    )
    in_local_list = models.BooleanField(_("in local authorization list"), default=False)
    label = models.CharField(_("label"), max_length=100, blank=True)
    account = models.ForeignKey(
        "energy.EnergyAccount",
        verbose_name=_("energy account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="id_tags",
        help_text=_("The account this card's sessions are charged to."),
    )
    site = models.ForeignKey(
        "chargers.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="id_tags",
        help_text=_(
            "The site whose operators manage this card. Empty: only operators of all sites "
            "see it. Either way the card is accepted at every station."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["id_tag"]
        verbose_name = _("id tag")
        verbose_name_plural = _("id tags")

    def __str__(self) -> str:
        return self.label or self.id_tag


class LocalListEntry(models.Model):
    """An id tag as the station holds it in its local authorization list (OCPP 1.6 or 2.x).

    The snapshot of what the station accepted last, kept so a Differential SendLocalList
    sends only what changed since.
    """

    station = models.ForeignKey(
        "chargers.ChargingStation", on_delete=models.CASCADE, related_name="local_list"
    )
    id_tag = models.CharField(_("id tag"), max_length=36)
    token_type = models.CharField(
        _("token type"), max_length=20, blank=True, help_text=_("OCPP 2.x idToken type.")
    )
    status = models.CharField(_("status"), max_length=16)
    expiry_date = models.DateTimeField(_("expiry date"), null=True, blank=True)
    parent_id_tag = models.CharField(_("parent id tag"), max_length=36, blank=True)
    version = models.IntegerField(_("list version"), help_text=_("List version that sent it."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "id_tag"]
        constraints = [
            models.UniqueConstraint(fields=["station", "id_tag"], name="local_list_entry_unique")
        ]
        verbose_name = _("local list entry")
        verbose_name_plural = _("local list entries")

    def __str__(self) -> str:
        return f"{self.id_tag} ({self.status})"
