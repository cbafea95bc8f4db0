"""PDF receipts: the figures a reader sees, read back from the PDF's text."""

from __future__ import annotations

import io
from decimal import Decimal
from importlib.util import find_spec

import pytest
from pypdf import PdfReader

from apps.energy.models import EntryKind
from apps.energy.services import ledger_post
from apps.portal.receipts import ReceiptError, receipt_number, receipt_pdf

# The tariff work's cost breakdown (apps/transactions/billing.py): with it a receipt shows the
# cost in parts, without it the total and the VAT worked out of it.
HAVE_BREAKDOWN = find_spec("apps.transactions.billing") is not None

ISSUER = {
    "BILLING_ISSUER_NAME": "Energia & Co. S.r.l.",
    "BILLING_ISSUER_ADDRESS": "Via Roma 1\n00100 Roma RM",
    "BILLING_ISSUER_VAT_NUMBER": "IT01234567890",
}


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(autouse=True)
def issuer(settings) -> None:
    for name, value in ISSUER.items():
        setattr(settings, name, value)


def test_a_session_receipt_shows_the_session_tariff_and_totals(alice) -> None:
    text = text_of(receipt_pdf(entry=alice.charge, language="en"))
    for expected in (
        "Energia & Co. S.r.l.",
        "Via Roma 1",
        "00100 Roma RM",
        "VAT number: IT01234567890",
        "Receipt for a charging session",
        f"R2026-{alice.charge.pk:06d}",
        "Alice EV",
        "Piazza Duomo",
        "tx-alice-1",
        "ALICE-0001",
        "12.345 kWh",
        "Standard (standard v3)",
        "0.4500 EUR/kWh",
        "0.0500 EUR/min",
        "1.0000 EUR",
        # VAT 22% worked out of the gross total, rounded once to cents.
        "13.49 EUR",
        "2.43 EUR",
    ):
        assert expected in text, expected
    if HAVE_BREAKDOWN:
        # 12.345 kWh x 0.45 = 5.55525; 90 min x 0.05; net 11.05525 -> 11.06, VAT 13.49 - 11.06.
        for expected in ("Energy cost", "5.56 EUR", "Time cost", "4.50 EUR", "Net", "11.06 EUR"):
            assert expected in text, expected
        assert "VAT 22%" in text
    else:
        assert "of which VAT 22%" in text
    # A price that is zero in the tariff is not printed.
    assert "Idle fee" not in text


def test_a_topup_receipt_shows_the_amount_credited(alice) -> None:
    text = text_of(receipt_pdf(entry=alice.topup, language="en"))
    assert "Receipt for a top-up" in text
    assert f"R2026-{alice.topup.pk:06d}" in text
    assert "stripe:tx-alice-1" in text
    assert "Paid with\nStripe" in text
    assert "Amount credited" in text and "50.00 EUR" in text


def test_it_writes_the_receipt_in_italian(alice) -> None:
    text = text_of(receipt_pdf(entry=alice.charge, language="it"))
    for expected in ("Ricevuta", "Partita IVA: IT01234567890", "12,345 kWh", "13,49 EUR"):
        assert expected in text, expected
    assert ("IVA 22%" if HAVE_BREAKDOWN else "di cui IVA 22%") in text and "2,43 EUR" in text
    assert "Receipt for" not in text


def test_the_number_and_file_are_stable(alice) -> None:
    first = receipt_pdf(entry=alice.charge, language="en")
    assert receipt_pdf(entry=alice.charge, language="en") == first
    assert receipt_number(alice.charge) != receipt_number(alice.topup)


def test_a_receipt_without_tariff_or_meter_readings_still_renders(alice) -> None:
    session = alice.session
    session.tariff = None
    session.meter_stop_wh = None
    session.save(update_fields=["tariff", "meter_stop_wh"])
    text = text_of(receipt_pdf(entry=alice.charge, language="en"))
    assert "13.49 EUR" in text
    assert "kWh" not in text and "VAT 22" not in text


def test_a_kwh_account_receipt_is_in_kwh(alice) -> None:
    account = alice.account
    account.unit = "kwh"
    account.save(update_fields=["unit"])
    entry, _ = ledger_post(
        account=account, kind=EntryKind.TOPUP, amount=Decimal("20.5"), reference="manual:1"
    )
    assert "20.500 kWh" in text_of(receipt_pdf(entry=entry, language="en"))


def test_there_is_no_receipt_for_an_adjustment(alice) -> None:
    entry, _ = ledger_post(
        account=alice.account, kind=EntryKind.ADJUSTMENT, amount=Decimal("-1"), reason="fix"
    )
    with pytest.raises(ReceiptError, match="no receipt"):
        receipt_pdf(entry=entry, language="en")


def test_the_issuer_lines_resolve_sigils(alice, settings, monkeypatch) -> None:
    # One configuration for several sites: the site's part comes from its environment.
    monkeypatch.setenv("SITE_CITY", "00144 Roma RM")
    settings.SIGILS_ENV_ALLOW = ["SITE_CITY"]
    settings.BILLING_ISSUER_NAME = "Energia & Co. [[[ENV.SITE_CITY]]"
    settings.BILLING_ISSUER_ADDRESS = "Via Roma 1\n[ENV.SITE_CITY]\n[ENV.NOT_LISTED]"
    text = text_of(receipt_pdf(entry=alice.topup, language="en"))
    assert "Energia & Co. [00144 Roma RM]" in text
    assert "Via Roma 1\n00144 Roma RM\n[ENV.NOT_LISTED]" in text
