"""Self-service pages for account owners: their accounts, sessions, cards and receipts.

Every page is for a logged-in user and shows only the accounts that user owns: another
user's account or receipt is a 404, exactly as one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.portal import selectors
from apps.portal.models import RECEIPT_KINDS
from apps.portal.receipts import receipt_filename, receipt_pdf

LOGIN_URL = "portal:login"
PAGE_SIZE = 25


def pdf_response(*, entry, language: str | None = None) -> HttpResponse:
    """Return the entry's receipt as a PDF download."""
    response = HttpResponse(receipt_pdf(entry=entry, language=language), "application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipt_filename(entry)}"'
    return response


@require_GET
@login_required(login_url=LOGIN_URL)
def account_list(request: HttpRequest) -> TemplateResponse:
    """List the user's accounts with their balance."""
    accounts = selectors.owned_accounts(user=request.user)
    return TemplateResponse(
        request, "portal/account_list.html", {"title": _("My accounts"), "accounts": accounts}
    )


@require_GET
@login_required(login_url=LOGIN_URL)
def account_detail(request: HttpRequest, pk: int) -> TemplateResponse:
    """Show one of the user's accounts: balance, sessions, ledger, cards, reservations."""
    account = get_object_or_404(selectors.owned_accounts(user=request.user), pk=pk)
    sessions = Paginator(selectors.account_sessions(account=account), PAGE_SIZE).get_page(
        request.GET.get("sessions")
    )
    receipts = selectors.session_receipts(account=account, sessions=list(sessions))
    for tx in sessions:
        # Shown per row: the energy in kWh and the session's receipt, if it was charged.
        tx.energy_kwh = None if tx.energy_wh is None else Decimal(tx.energy_wh) / 1000
        tx.receipt_pk = receipts.get(tx.pk)
    entries = Paginator(account.entries.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("entries")
    )
    context = {
        "title": account.name,
        "account": account,
        "sessions": sessions,
        "entries": entries,
        "receipt_kinds": [str(kind) for kind in RECEIPT_KINDS],
        "cards": selectors.account_cards(account=account),
        "reservations": selectors.account_reservations(account=account),
    }
    return TemplateResponse(request, "portal/account_detail.html", context)


@require_GET
@login_required(login_url=LOGIN_URL)
def receipt_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the receipt of one of the user's sessions or top-ups, in their language."""
    entry = get_object_or_404(selectors.owned_receipts(user=request.user), pk=pk)
    return pdf_response(entry=entry)
