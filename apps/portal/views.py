"""Self-service pages for account owners: their accounts, sessions, cards and receipts.

Every page is for a logged-in user and shows only the accounts that user owns: another
user's account or receipt is a 404, exactly as one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.energy.models import AccountStatus, AccountUnit, EnergyAccount
from apps.energy.services import AccountError, account_language_set
from apps.payments.processors.base import PaymentError
from apps.payments.services import payments_available, topup_start
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


class TopUpForm(forms.Form):
    """Amount and processor of a top-up; the limits are the payments service's to check."""

    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), max_digits=10, decimal_places=2, min_value=0
    )
    processor = forms.ChoiceField(label=gettext_lazy("Pay with"))

    def __init__(self, *args: object, processors: list[tuple[str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["processor"].choices = processors


def _topup_form(account: EnergyAccount) -> TopUpForm | None:
    """Return the top-up form for an account that can be topped up with money, else None."""
    if account.unit != AccountUnit.MONEY or account.status == AccountStatus.CLOSED:
        return None
    processors = payments_available()
    return TopUpForm(processors=processors) if processors else None


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
    returned = {
        "done": _("Thank you. The top-up is credited as soon as the payment is confirmed."),
        "cancelled": _("Top-up cancelled: nothing was charged."),
    }.get(request.GET.get("topup", ""))
    context = {
        "title": account.name,
        "topup_form": _topup_form(account),
        "topup_returned": returned,
        "account": account,
        "sessions": sessions,
        "entries": entries,
        "receipt_kinds": [str(kind) for kind in RECEIPT_KINDS],
        "cards": selectors.account_cards(account=account),
        "reservations": selectors.account_reservations(account=account),
        "language_form": LanguageForm(initial={"language": account.language}),
    }
    return TemplateResponse(request, "portal/account_detail.html", context)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language at the stations"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["language"].choices = [
            ("", gettext_lazy("This site's language")),
            *settings.LANGUAGES,
        ]


@require_POST
@login_required(login_url=LOGIN_URL)
def account_language(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Set the language the stations address the account's drivers in."""
    account = get_object_or_404(selectors.owned_accounts(user=request.user), pk=pk)
    back = reverse("portal:account", args=[account.pk])
    form = LanguageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the languages offered."))
        return HttpResponseRedirect(back)
    try:
        changed = account_language_set(account=account, language=form.cleaned_data["language"])
    except AccountError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(back)
    if changed:
        messages.success(request, _("Language saved: stations show prices in it."))
    return HttpResponseRedirect(back)


@require_GET
@login_required(login_url=LOGIN_URL)
def receipt_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the receipt of one of the user's sessions or top-ups, in their language."""
    entry = get_object_or_404(selectors.owned_receipts(user=request.user), pk=pk)
    return pdf_response(entry=entry)


@require_POST
@login_required(login_url=LOGIN_URL)
def account_topup(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Open a checkout at the chosen processor and send the owner there."""
    account = get_object_or_404(selectors.owned_accounts(user=request.user), pk=pk)
    back = reverse("portal:account", args=[account.pk])
    form = _topup_form(account)
    if form is None:
        messages.error(request, _("This account cannot be topped up online."))
        return HttpResponseRedirect(back)
    form = TopUpForm(request.POST, processors=form.fields["processor"].choices)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(back)
    page = request.build_absolute_uri(back)
    try:
        checkout = topup_start(
            account=account,
            amount=form.cleaned_data["amount"],
            processor=form.cleaned_data["processor"],
            success_url=f"{page}?topup=done",
            cancel_url=f"{page}?topup=cancelled",
            by=request.user,
        )
    except PaymentError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(back)
    return HttpResponseRedirect(checkout)
