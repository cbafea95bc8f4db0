from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from apps.energy.models import EnergyAccount
from apps.payments.models import ProcessorConfig
from tests.payments.providers import Provider, ProviderServer

STRIPE_TEST_KEY = "sk_test_51Constellation0000secret"
STRIPE_LIVE_KEY = "sk_live_51Constellation0000secret"
STRIPE_WEBHOOK_SECRET = "whsec_test_constellation_secret"
PAYPAL_CLIENT = "AZ-test-client-id"
PAYPAL_SECRET = "EP-test-client-secret-value"
PAYPAL_LIVE_CLIENT = "AZ-live-client-id"
PAYPAL_LIVE_SECRET = "EP-live-client-secret-value"
PAYPAL_WEBHOOK_ID = "8PT597110X687430LKGECATA"


@pytest.fixture(scope="session")
def provider_server() -> Iterator[Provider]:
    with ProviderServer() as state:
        yield state


@pytest.fixture
def provider(provider_server: Provider, settings) -> Provider:
    provider_server.reset()
    settings.STRIPE_API_BASE = provider_server.base
    settings.PAYPAL_API_BASE = f"{provider_server.base}/live"
    settings.PAYPAL_SANDBOX_API_BASE = f"{provider_server.base}/sandbox"
    provider_server.stripe_keys.update({STRIPE_TEST_KEY, STRIPE_LIVE_KEY})
    provider_server.paypal_clients.update(
        {PAYPAL_CLIENT: PAYPAL_SECRET, PAYPAL_LIVE_CLIENT: PAYPAL_LIVE_SECRET}
    )
    provider_server.paypal_webhook_ids.add(PAYPAL_WEBHOOK_ID)
    return provider_server


@pytest.fixture
def account(db) -> EnergyAccount:
    return EnergyAccount.objects.create(name="Rossi", currency="EUR")


@pytest.fixture
def stripe_config(db, provider) -> ProcessorConfig:
    config = ProcessorConfig(processor="stripe", enabled=True, test_mode=True)
    config.set_secret("test_secret_key", STRIPE_TEST_KEY)
    config.set_secret("test_webhook_secret", STRIPE_WEBHOOK_SECRET)
    config.set_secret("secret_key", STRIPE_LIVE_KEY)
    config.set_secret("webhook_secret", "whsec_live_other")
    config.save()
    return config


@pytest.fixture
def paypal_config(db, provider) -> ProcessorConfig:
    config = ProcessorConfig(
        processor="paypal",
        enabled=True,
        test_mode=True,
        test_client_id=PAYPAL_CLIENT,
        test_webhook_id=PAYPAL_WEBHOOK_ID,
        client_id=PAYPAL_LIVE_CLIENT,
        webhook_id=PAYPAL_WEBHOOK_ID,
    )
    config.set_secret("test_secret_key", PAYPAL_SECRET)
    config.set_secret("secret_key", PAYPAL_LIVE_SECRET)
    config.save()
    return config


def balance(account: EnergyAccount) -> Decimal:
    account.refresh_from_db()
    return account.balance
