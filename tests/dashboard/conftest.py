"""Personas and data of the control center tests, built through the real services."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.chargers.services import (
    ConnectorStatus,
    connector_status_update,
    station_connect,
)
from apps.core import live
from apps.transactions.services import SampledValue, meter_values_record, transaction_start

PASSWORD = "a-long-test-password-42"
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)


@pytest.fixture
def viewer(db):
    """A staff member who may only view stations (and nothing else)."""
    user = get_user_model().objects.create_user("viewer", "v@example.com", PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_chargingstation"))
    return user


@pytest.fixture
def station(db) -> ChargingStation:
    station = ChargingStation.objects.create(
        charger_id="CP-DASH-1",
        registration_status=RegistrationStatus.ACCEPTED,
        vendor="Acme",
        model="Volt",
        firmware_version="1.2.3",
    )
    station_connect(station=station, ocpp_version="ocpp1.6", connection_id="c1")
    connector_status_update(
        station_id=station.pk, report=ConnectorStatus(connector_id=1, status="Charging")
    )
    connector_status_update(
        station_id=station.pk, report=ConnectorStatus(connector_id=2, status="Faulted")
    )
    return station


def meter(station: ChargingStation, tx_id: str, at: datetime, wh: float, w: float) -> None:
    meter_values_record(
        station_id=station.pk,
        connector_id=1,
        transaction_id=tx_id,
        samples=[
            SampledValue(timestamp=at, value=str(wh), unit="Wh"),
            SampledValue(
                timestamp=at, value=str(w / 1000), measurand="Power.Active.Import", unit="kW"
            ),
        ],
    )


@pytest.fixture
def charging(station):
    """A running transaction on connector 1 with three readings, the last at 7.4 kW."""
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start_wh=1000,
        started_at=T0,
        free_charging=True,
    )
    for minute, wh, w in ((1, 1100, 6000), (2, 1220, 7000), (3, 1350, 7400)):
        meter(station, tx.transaction_id, T0 + timedelta(minutes=minute), wh, w)
    return tx


@pytest.fixture
def watching():
    """Count one dashboard open in this process, as the consumer does."""
    live.watcher_joined()
    yield
    live.watcher_left()


IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
SHARED = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}


class Sent(list):
    """The group messages publish() sent, recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def wait(self) -> Sent:
        # A shared layer is sent to from the publisher's own thread.
        assert self.arrived.wait(5), "nothing was sent"
        return self


@pytest.fixture
def sent(monkeypatch, settings) -> Sent:
    settings.CHANNEL_LAYERS = IN_MEMORY
    messages = Sent()

    class Layer:
        async def group_send(self, group: str, message: dict) -> None:
            messages.append((group, message))
            messages.arrived.set()

    monkeypatch.setattr(live, "get_channel_layer", lambda: Layer())
    monkeypatch.setattr(live, "_loop", None)
    return messages
