"""Receipts: the ledger entries a receipt is issued for, as their own admin list.

A proxy of `LedgerEntry` (no table of its own): the receipt number is derived from the entry,
so it is unique and never changes, and the entry itself is immutable.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.energy.models import EntryKind, LedgerEntry

# The entries a receipt is issued for: a paid session and a top-up.
RECEIPT_KINDS = (EntryKind.CHARGE, EntryKind.TOPUP)


class ReceiptManager(models.Manager["Receipt"]):
    def get_queryset(self) -> models.QuerySet[Receipt]:
        return super().get_queryset().filter(kind__in=RECEIPT_KINDS)


class Receipt(LedgerEntry):
    objects = ReceiptManager()

    class Meta:
        proxy = True
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-created_at", "-pk"]
