"""Billing data for the portal's tests: two owners, each with an account, a paid session and
a top-up, built through the ledger's real service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.chargers.models import ChargingStation, Connector
from apps.energy.models import EnergyAccount, EntryKind, LedgerEntry, Tariff
from apps.energy.services import ledger_post
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction

PASSWORD = "a-long-owner-password-42"
STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Billed:
    user: object
    account: EnergyAccount
    card: IdTag
    session: Transaction
    charge: LedgerEntry
    topup: LedgerEntry
    tariff: Tariff


def make_billed(username: str, *, tag: str, tx_id: str, reservation_id: int) -> Billed:
    user = get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD)
    account = EnergyAccount.objects.create(name=f"{username.title()} EV", owner=user)
    card = IdTag.objects.create(id_tag=tag, label=f"{username}'s card", account=account)
    station, _ = ChargingStation.objects.get_or_create(
        charger_id="CP-PORTAL", defaults={"name": "Piazza Duomo"}
    )
    connector, _ = Connector.objects.get_or_create(station=station, connector_id=2)
    tariff, _ = Tariff.objects.get_or_create(
        code="standard",
        version=3,
        defaults={
            "name": "Standard",
            "energy_price": Decimal("0.4500"),
            "time_price": Decimal("0.0500"),
            "session_fee": Decimal("1.0000"),
            "vat_percent": Decimal("22.00"),
            "valid_from": STARTED - timedelta(days=30),
        },
    )
    session = Transaction.objects.create(
        station=station,
        connector=connector,
        transaction_id=tx_id,
        id_tag=tag,
        id_tag_ref=card,
        meter_start_wh=1_000,
        meter_stop_wh=13_345,
        started_at=STARTED,
        stopped_at=STARTED + timedelta(minutes=90),
        account=account,
        tariff=tariff,
        cost=Decimal("13.4900"),
    )
    topup, _ = ledger_post(
        account=account, kind=EntryKind.TOPUP, amount=Decimal("50"), reference=f"stripe:{tx_id}"
    )
    charge, _ = ledger_post(
        account=account, kind=EntryKind.CHARGE, amount=-session.cost, reference=f"tx:{session.pk}"
    )
    Reservation.objects.create(
        station=station,
        connector=connector,
        reservation_id=reservation_id,
        id_tag=tag,
        account=account,
        expires_at=STARTED + timedelta(days=1),
        status="accepted",
    )
    return Billed(user, account, card, session, charge, topup, tariff)


@pytest.fixture
def alice(db) -> Billed:
    return make_billed("alice", tag="ALICE-0001", tx_id="tx-alice-1", reservation_id=101)


@pytest.fixture
def bob(db) -> Billed:
    return make_billed("bob", tag="BOB-0002", tx_id="tx-bob-1", reservation_id=202)


# The payments tests' local Stripe / PayPal server and processor settings, for the top-up form.
from tests.payments.conftest import (  # noqa: E402, F401
    paypal_config,
    provider,
    provider_server,
    stripe_config,
)
