"""PDF receipts for paid sessions and top-ups (docs/billing.md, section "portal").

A receipt is built from a ledger entry (immutable), so the same entry always gives the same
receipt and number. The figures come from the entry and, for a session, from its transaction
and the tariff version it was priced with.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from apps.energy.models import AccountUnit, EntryKind, LedgerEntry
from apps.nodes.sigils import resolve
from apps.payments.models import Processor
from apps.transactions.models import Transaction

try:
    # The cost's parts (energy, time, idle, fee, VAT) as the tariff work prices them. Receipts
    # do without when it is not there: the total and the tariff's prices are printed anyway.
    from apps.transactions.billing import transaction_cost
except ImportError:  # pragma: no cover - present once the tariff work is merged
    transaction_cost = None

logger = logging.getLogger("apps.portal")

# Digits after the point a currency is rounded to on a receipt (its minor unit); others: 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}


class ReceiptError(ValueError):
    """The entry has no receipt (not a session charge nor a top-up)."""


@dataclass(frozen=True)
class Line:
    label: str
    value: str


@dataclass(frozen=True)
class ReceiptData:
    """What one receipt says, already formatted in the reader's language."""

    number: str
    title: str
    issued_at: str
    issuer: list[str]
    account: str
    details: list[Line] = field(default_factory=list)
    prices: list[Line] = field(default_factory=list)
    totals: list[Line] = field(default_factory=list)


def receipt_number(entry: LedgerEntry) -> str:
    """Return the entry's receipt number: its year and id, so unique and never changing."""
    return f"{settings.BILLING_RECEIPT_PREFIX}{entry.created_at:%Y}-{entry.pk:06d}"


def receipt_filename(entry: LedgerEntry) -> str:
    return f"receipt-{receipt_number(entry)}.pdf"


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def _money(value: Decimal, currency: str) -> str:
    """Format an amount rounded once to the currency's minor unit, in the active language."""
    rounded = value.quantize(_quantum(currency), rounding=ROUND_HALF_UP)
    places = MINOR_UNITS.get(currency.upper(), 2)
    return f"{formats.number_format(rounded, decimal_pos=places, use_l10n=True)} {currency}"


def _number(value: Decimal, places: int) -> str:
    return formats.number_format(value, decimal_pos=places, use_l10n=True)


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT", use_l10n=True)


def _entry_amount(entry: LedgerEntry) -> str:
    """Return the entry's amount as paid: money in its currency, or kWh credit."""
    amount = abs(entry.amount)
    if entry.account.unit == AccountUnit.KWH:
        return f"{_number(amount, 3)} kWh"
    return _money(amount, entry.account.currency)


def _transaction_of(entry: LedgerEntry) -> Transaction | None:
    """Return the session a charge entry is for (its reference is "tx:<pk>"), if any."""
    prefix, _sep, pk = entry.reference.partition(":")
    if prefix != "tx" or not pk.isdigit():
        return None
    return (
        Transaction.objects.select_related("station", "connector", "tariff", "account")
        .filter(pk=int(pk), account_id=entry.account_id)
        .first()
    )


def _session_lines(entry: LedgerEntry, tx: Transaction | None) -> tuple[list, list, list]:
    details: list[Line] = []
    prices: list[Line] = []
    totals: list[Line] = []
    currency = entry.account.currency
    if tx is not None:
        connector = tx.connector.connector_id if tx.connector is not None else "-"
        details += [
            Line(_("Station"), str(tx.station)),
            Line(_("Connector"), str(connector)),
            Line(_("Session"), tx.transaction_id),
            Line(_("Card"), tx.id_tag or "-"),
            Line(_("Started"), _when(tx.started_at)),
            Line(_("Stopped"), _when(tx.stopped_at)),
        ]
        if tx.energy_wh is not None:
            energy = Decimal(tx.energy_wh) / 1000
            details.append(Line(_("Energy"), f"{_number(energy, 3)} kWh"))
        tariff = tx.tariff
        if tariff is not None:
            currency = tariff.currency
            prices.append(Line(_("Tariff"), f"{tariff.name} ({tariff.code} v{tariff.version})"))
            for label, value, unit in (
                (_("Energy price"), tariff.energy_price, "/kWh"),
                (_("Time price"), tariff.time_price, "/min"),
                (_("Idle fee"), tariff.idle_price, "/min"),
                (_("Session fee"), tariff.session_fee, ""),
            ):
                if value:
                    prices.append(Line(label, f"{_number(value, 4)} {tariff.currency}{unit}"))
            if tariff.bands:
                prices.append(Line(_("Time-of-day bands"), _("yes (see the tariff)")))
    paid = -entry.amount
    tariff = tx.tariff if tx is not None else None
    parts = _cost_parts(tx) if tariff is not None else None
    if parts is not None:
        details += parts[0]
        totals += parts[1]
    totals.insert(0, Line(_("Total"), _entry_amount(entry)))
    if parts is not None:
        return details, prices, totals
    if tariff is not None and tariff.vat_percent and entry.account.unit == AccountUnit.MONEY:
        # The cost is gross (VAT included): the VAT part is worked out of the total once.
        rate = tariff.vat_percent
        vat = paid - paid / (1 + rate / 100)
        places = 0 if rate == rate.to_integral_value() else 2
        label = _("of which VAT %(rate)s%%") % {"rate": _number(rate, places)}
        totals.append(Line(label, _money(vat, currency)))
    return details, prices, totals


def _cost_parts(tx: Transaction) -> tuple[list[Line], list[Line]] | None:
    """Return the session's cost in parts (lines, then net and VAT), or None if unknown."""
    if transaction_cost is None or tx.tariff is None or tx.account is None:
        return None
    if tx.account.unit == AccountUnit.KWH:
        # A kWh account pays in energy: money parts would not add up to what it was charged.
        return None
    try:
        cost = transaction_cost(transaction=tx, tariff=tx.tariff)
    except (ArithmeticError, ValueError):
        # A receipt is still owed when a breakdown cannot be worked out: total only.
        logger.warning("receipt: no cost breakdown for tx %s", tx.pk, exc_info=True)
        return None
    currency = cost.currency
    lines = [
        Line(label, _money(value, currency))
        for label, value in (
            (_("Energy cost"), cost.energy),
            (_("Time cost"), cost.time),
            (_("Idle fee"), cost.idle),
            (_("Session fee"), cost.session_fee),
        )
        if value
    ]
    totals = []
    if cost.vat_shown and tx.account.unit == AccountUnit.MONEY:
        rate = tx.tariff.vat_percent
        places = 0 if rate == rate.to_integral_value() else 2
        totals = [
            Line(_("Net"), _money(cost.net_shown, currency)),
            Line(
                _("VAT %(rate)s%%") % {"rate": _number(rate, places)},
                _money(cost.vat_shown, currency),
            ),
        ]
    return lines, totals


def receipt_data(*, entry: LedgerEntry) -> ReceiptData:
    """Return what the entry's receipt says, in the active language."""
    if entry.kind not in (EntryKind.CHARGE, EntryKind.TOPUP):
        raise ReceiptError(f"no receipt for a ledger entry of kind {entry.kind!r}")
    issuer = [
        line
        for line in (
            resolve(settings.BILLING_ISSUER_NAME),
            *resolve(settings.BILLING_ISSUER_ADDRESS).split("\n"),
            (
                _("VAT number: %(number)s") % {"number": settings.BILLING_ISSUER_VAT_NUMBER}
                if settings.BILLING_ISSUER_VAT_NUMBER
                else ""
            ),
        )
        if line.strip()
    ]
    account = entry.account
    holder = account.name + (f" — {account.organisation}" if account.organisation else "")
    if entry.kind == EntryKind.CHARGE:
        details, prices, totals = _session_lines(entry, _transaction_of(entry))
        title = _("Receipt for a charging session")
    else:
        title = _("Receipt for a top-up")
        details = [Line(_("Reference"), entry.reference or "-")]
        # The payments service credits a top-up under "<processor>:<its payment id>".
        processor = dict(Processor.choices).get(entry.reference.partition(":")[0])
        if processor:
            details.insert(0, Line(_("Paid with"), processor))
        prices = []
        totals = [Line(_("Amount credited"), _entry_amount(entry))]
    return ReceiptData(
        number=receipt_number(entry),
        title=title,
        issued_at=_when(entry.created_at),
        issuer=issuer,
        account=holder,
        details=details,
        prices=prices,
        totals=totals,
    )


def _table(lines: list[Line], *, emphasise_first: bool = False) -> Table:
    table = Table(
        [[line.label, line.value] for line in lines], colWidths=[60 * mm, 100 * mm], hAlign="LEFT"
    )
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 10),
        ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#444444")),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
    ]
    if emphasise_first:
        style += [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 11),
            ("LINEABOVE", (0, 0), (-1, 0), 0.5, colors.black),
        ]
    table.setStyle(TableStyle(style))
    return table


def receipt_pdf(*, entry: LedgerEntry, language: str | None = None) -> bytes:
    """Return the entry's receipt as a PDF, in `language` (default: the active one)."""
    with translation.override(language or translation.get_language()):
        data = receipt_data(entry=entry)
        styles = getSampleStyleSheet()
        buffer = io.BytesIO()
        # invariant: no creation date or random id in the file, so a receipt downloaded
        # twice is the same file.
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            title=f"{data.title} {data.number}",
            author=resolve(settings.BILLING_ISSUER_NAME),
            invariant=1,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=20 * mm,
            bottomMargin=20 * mm,
        )
        story: list = [Paragraph(escape(line), styles["Normal"]) for line in data.issuer]
        story += [
            Spacer(1, 8 * mm),
            Paragraph(escape(data.title), styles["Heading1"]),
            _table(
                [
                    Line(_("Receipt number"), data.number),
                    Line(_("Date"), data.issued_at),
                    Line(_("Account"), data.account),
                ]
            ),
            Spacer(1, 5 * mm),
        ]
        if data.details:
            story += [_table(data.details), Spacer(1, 5 * mm)]
        if data.prices:
            story += [Paragraph(_("Prices applied"), styles["Heading3"]), _table(data.prices)]
            story.append(Spacer(1, 5 * mm))
        story.append(_table(data.totals, emphasise_first=True))
        document.build(story)
    return buffer.getvalue()
