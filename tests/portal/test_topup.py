"""Top-up from the account page: through the payments service to the processor's checkout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.payments.models import TopUp, TopUpStatus


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice.user)
    return client


def balance_of(billed) -> Decimal:
    billed.account.refresh_from_db()
    return billed.account.balance


def test_without_an_enabled_processor_there_is_no_top_up_form(as_alice, alice) -> None:
    body = as_alice.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert reverse("portal:topup", args=[alice.account.pk]) not in body
    response = as_alice.post(
        reverse("portal:topup", args=[alice.account.pk]), {"amount": "20", "processor": "stripe"}
    )
    assert response.status_code == 302
    assert not TopUp.objects.exists()


def test_the_form_offers_the_enabled_processors(
    as_alice, alice, stripe_config, paypal_config
) -> None:
    body = as_alice.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert reverse("portal:topup", args=[alice.account.pk]) in body
    assert '<option value="stripe">Stripe</option>' in body
    assert '<option value="paypal">PayPal</option>' in body


def test_a_kwh_account_has_no_money_top_up(as_alice, alice, stripe_config) -> None:
    alice.account.unit = "kwh"
    alice.account.save(update_fields=["unit"])
    body = as_alice.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert reverse("portal:topup", args=[alice.account.pk]) not in body


def test_a_top_up_sends_the_owner_to_the_checkout(as_alice, alice, stripe_config) -> None:
    before = balance_of(alice)
    response = as_alice.post(
        reverse("portal:topup", args=[alice.account.pk]),
        {"amount": "20.00", "processor": "stripe"},
    )
    topup = TopUp.objects.get(account=alice.account)
    assert response.status_code == 302
    assert response["Location"] == f"https://checkout.stripe.com/c/pay/{topup.external_id}"
    assert topup.amount == Decimal("20.00") and topup.status == TopUpStatus.PENDING
    page = f"http://testserver{reverse('portal:account', args=[alice.account.pk])}"
    assert topup.success_url == f"{page}?topup=done"
    # Nothing is credited until the processor confirms the payment.
    assert balance_of(alice) == before


def test_the_return_page_says_the_credit_follows_the_payment(as_alice, alice) -> None:
    url = reverse("portal:account", args=[alice.account.pk])
    body = as_alice.get(f"{url}?topup=done").content.decode()
    assert "credited as soon as the payment is confirmed" in body


def test_a_refused_amount_stays_on_the_page_with_the_reason(as_alice, alice, stripe_config):
    url = reverse("portal:topup", args=[alice.account.pk])
    response = as_alice.post(url, {"amount": "0.50", "processor": "stripe"}, follow=True)
    assert "A top-up is at least" in response.content.decode()
    response = as_alice.post(url, {"amount": "lots", "processor": "stripe"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:account", args=[alice.account.pk])
    assert not TopUp.objects.exists()


def test_another_users_account_cannot_be_topped_up(as_alice, bob, stripe_config) -> None:
    response = as_alice.post(
        reverse("portal:topup", args=[bob.account.pk]), {"amount": "20", "processor": "stripe"}
    )
    assert response.status_code == 404
    assert not TopUp.objects.exists()


def test_anonymous_users_cannot_top_up(client, alice, stripe_config) -> None:
    response = client.post(
        reverse("portal:topup", args=[alice.account.pk]), {"amount": "20", "processor": "stripe"}
    )
    assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert not TopUp.objects.exists()


def test_the_top_up_form_speaks_italian(as_alice, alice, stripe_config) -> None:
    url = reverse("portal:account", args=[alice.account.pk])
    body = as_alice.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Ricarica il credito" in body and "Paga con" in body
    body = as_alice.get(f"{url}?topup=cancelled", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Ricarica annullata" in body
