"""A connected station with a running session and its readings, built through the real services.

Loaded for every test by `pytest_plugins` in tests/conftest.py (the control center, charts and
exports tests share it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.chargers.services import (
    ConnectorStatus,
    connector_status_update,
    station_connect,
)
from apps.transactions.samples import SampledValue
from apps.transactions.services import meter_values_record, transaction_start

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


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
