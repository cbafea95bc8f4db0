"""Scripted sessions of simulated chargers end up in the CSMS database, for every version."""

from __future__ import annotations

import pytest

from apps.chargers.models import ChargingStation, StatusEvent
from apps.transactions.models import MeterValue, Transaction
from tests.simulator.conftest import VERSIONS, db, eventually, running, until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_scripted_session_is_stored_with_energy_and_meter_values(
    asgi_server, id_tag, version
):
    charger_id = f"SIM-SESSION-{version}"
    async with running(
        asgi_server, charger_id, version, id_tag=id_tag, session_duration=1.2, session_pause=30
    ) as charger:
        tx = await eventually(
            lambda: Transaction.objects.filter(
                station__charger_id=charger_id, stopped_at__isnull=False
            ).first(),
            what="a finished transaction",
        )
    station = await eventually(lambda: ChargingStation.objects.get(charger_id=charger_id))
    assert station.ocpp_version == f"ocpp{version}"
    assert station.vendor == "Constellation"
    assert station.last_boot_at is not None
    assert tx.id_tag == id_tag
    assert tx.meter_start_wh is not None and tx.meter_stop_wh is not None
    assert tx.energy_wh > 0
    readings = await eventually(
        lambda: list(
            MeterValue.objects.filter(transaction=tx, measurand="Energy.Active.Import.Register")
            .order_by("timestamp")
            .values_list("normalized_value", flat=True)
        )
    )
    assert len(readings) >= 3
    assert readings == sorted(readings)  # the register only goes up
    currents = await eventually(
        lambda: MeterValue.objects.filter(transaction=tx, measurand="Current.Import").count()
    )
    assert currents > 0
    statuses = await eventually(
        lambda: list(
            StatusEvent.objects.filter(station=station, connector_id=1)
            .order_by("received_at", "id")
            .values_list("status", flat=True)
        )
    )
    assert statuses[-1] == "Available"
    assert charger.stats.sessions_started >= 1
    assert charger.stats.errors == 0, charger.stats.last_error


async def test_a_tag_the_csms_refuses_for_start_is_stopped_at_once(asgi_server, id_tag):
    # One tag on two connectors: the second StartTransaction is answered ConcurrentTx.
    charger_id = "SIM-CONCURRENT"
    async with running(
        asgi_server,
        charger_id,
        "1.6",
        id_tag=id_tag,
        connectors=2,
        session_duration=5,
        session_pause=30,
    ):
        refused = await eventually(
            lambda: Transaction.objects.filter(
                station__charger_id=charger_id, stop_reason="DeAuthorized"
            ).first(),
            what="a transaction stopped as DeAuthorized",
        )
    assert refused.authorization_status == "ConcurrentTx"


async def test_an_unknown_tag_starts_no_transaction(asgi_server):
    charger_id = "SIM-UNKNOWN-TAG"
    async with running(
        asgi_server, charger_id, "2.0.1", id_tag="NOBODY", session_duration=1
    ) as charger:
        await eventually(
            lambda: StatusEvent.objects.filter(
                station__charger_id=charger_id, connector_id=1, status="Occupied"
            ).exists(),
            what="the driver plugged in",
        )
        await eventually(
            lambda: (
                StatusEvent.objects.filter(
                    station__charger_id=charger_id, connector_id=1, status="Available"
                ).count()
                >= 2
            ),
            what="the connector free again",
        )
    assert not await db(Transaction.objects.filter(station__charger_id=charger_id).exists)
    assert any("not authorized (Invalid)" in event for event in charger.events)


async def test_a_charger_refused_at_the_handshake_reports_the_status_and_reason(
    asgi_server, settings
):
    settings.OCPP_ALLOW_UNSECURED = False
    async with running(asgi_server, "SIM-REFUSED", "1.6", password="not-its-password") as charger:
        await until(lambda: charger.stats.errors >= 1, what="a refused connection")
    assert charger.stats.last_error == (
        "SIM-REFUSED: connection refused: HTTP 401 Unauthorized: authentication failed"
    )
    assert charger.stats.connections == 0
