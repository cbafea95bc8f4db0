"""Processor credentials: write-only in the admin, encrypted at rest, never in logs."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from apps.payments.models import ProcessorConfig, TopUp
from apps.payments.services import topup_refund, topup_start
from tests.payments.conftest import (
    PAYPAL_SECRET,
    STRIPE_LIVE_KEY,
    STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
)
from tests.payments.providers import stripe_signature

ADD_URL = "/admin/payments/processorconfig/add/"


@pytest.fixture
def operator_client(client, db):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345678")
    client.force_login(user)
    return client


def form(**fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "processor": "stripe",
        "enabled": "on",
        "test_mode": "on",
        "client_id": "",
        "webhook_id": "",
        "test_client_id": "",
        "test_webhook_id": "",
        "secret_key": "",
        "webhook_secret": "",
        "test_secret_key": "",
        "test_webhook_secret": "",
    }
    data.update(fields)
    return data


def test_secrets_are_not_shown_again_and_an_empty_field_keeps_them(operator_client) -> None:
    response = operator_client.post(
        ADD_URL, form(test_secret_key=STRIPE_TEST_KEY, test_webhook_secret=STRIPE_WEBHOOK_SECRET)
    )
    assert response.status_code == 302
    config = ProcessorConfig.objects.get()
    change_url = f"/admin/payments/processorconfig/{config.pk}/change/"
    page = operator_client.get(change_url).content.decode()
    assert STRIPE_TEST_KEY not in page and STRIPE_WEBHOOK_SECRET not in page
    assert "Saved; leave empty to keep it." in page
    listing = operator_client.get("/admin/payments/processorconfig/").content.decode()
    assert STRIPE_TEST_KEY not in listing and "test_secret_key" in listing

    # Saved again with the secret fields empty (a change of mode): the secrets stay.
    assert operator_client.post(change_url, form(test_mode="")).status_code == 302
    config.refresh_from_db()
    assert config.test_mode is False
    config.test_mode = True
    assert config.credentials().secret_key == STRIPE_TEST_KEY
    assert config.credentials().webhook_secret == STRIPE_WEBHOOK_SECRET

    # A new value replaces the old one; "forget" clears them all.
    operator_client.post(change_url, form(test_secret_key="sk_test_new"))
    config.refresh_from_db()
    assert config.credentials().secret_key == "sk_test_new"
    operator_client.post(change_url, form(clear_secrets="on"))
    config.refresh_from_db()
    assert config.credentials().secret_key == "" and config.credentials().webhook_secret == ""


def test_secrets_are_stored_encrypted(db) -> None:
    config = ProcessorConfig(processor="stripe")
    config.set_secret("secret_key", STRIPE_LIVE_KEY)
    config.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_key_encrypted FROM payments_processorconfig WHERE id = %s", [config.pk]
        )
        stored = cursor.fetchone()[0]
    assert stored and STRIPE_LIVE_KEY not in stored
    config.refresh_from_db()
    config.test_mode = False
    assert config.credentials().secret_key == STRIPE_LIVE_KEY
    assert STRIPE_LIVE_KEY not in repr(config.credentials())


def test_an_operator_without_permission_cannot_see_processors(client, make_user) -> None:
    user = make_user()
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(ADD_URL).status_code == 403
    assert client.get("/admin/payments/topup/").status_code == 403


def test_secrets_never_reach_the_logs(
    client, provider, stripe_config, paypal_config, account, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    topup_start(
        account=account,
        amount="10",
        processor="stripe",
        success_url="https://csms.example/ok",
        cancel_url="https://csms.example/no",
    )
    topup = TopUp.objects.get(processor="stripe")
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    client.post(
        "/payments/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(body, STRIPE_WEBHOOK_SECRET),
    )
    # A forged one logs its security event: without the secret.
    client.post(
        "/payments/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(body, "whsec_wrong"),
    )
    topup.refresh_from_db()
    topup_refund(topup=topup, by="boss")
    topup_start(
        account=account,
        amount="10",
        processor="paypal",
        success_url="https://csms.example/ok",
        cancel_url="https://csms.example/no",
    )
    assert "apps.payments" in {record.name for record in caplog.records}
    text = caplog.text
    for secret in (STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET, PAYPAL_SECRET):
        assert secret not in text


def test_the_refund_action_needs_its_permission(
    client, make_user, provider, stripe_config, account
) -> None:
    from apps.payments.models import TopUpStatus
    from apps.payments.processors.base import Event, EventKind
    from apps.payments.services import topup_apply

    topup_start(
        account=account,
        amount="10",
        processor="stripe",
        success_url="https://csms.example/ok",
        cancel_url="https://csms.example/no",
    )
    topup = TopUp.objects.get()
    body = provider.stripe_event("checkout.session.completed", topup.external_id)
    intent = provider.sessions[topup.external_id]["payment_intent"]
    assert body and intent
    topup_apply(
        processor="stripe",
        event=Event(
            id="evt", kind=EventKind.PAID, external_id=topup.external_id, payment_ref=intent
        ),
    )
    viewer = make_user("payments.view_topup")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    action = {"action": "refund", "_selected_action": [topup.pk]}
    client.post("/admin/payments/topup/", action)
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.PAID and provider.refunds == []

    refunder = make_user("payments.view_topup", "payments.refund_topup")
    refunder.is_staff = True
    refunder.save()
    client.force_login(refunder)
    assert client.post("/admin/payments/topup/", action).status_code == 302
    topup.refresh_from_db()
    assert topup.status == TopUpStatus.REFUNDED and len(provider.refunds) == 1
    account.refresh_from_db()
    assert account.balance == 0
