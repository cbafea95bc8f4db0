"""Two sites and their records, an operator of site A and a superuser (tests of tenancy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from apps.chargers.models import ChargingStation, Site, SiteMembership, StatusEvent
from apps.commands.models import ChargerCommand
from apps.ocpp.models import MessageLog
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag
from apps.security.models import SecurityEvent
from apps.transactions.models import MeterValue, Transaction

T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
PASSWORD = "a-long-test-password-42"


@dataclass
class Place:
    """A station and the records of it, by model label."""

    station: ChargingStation
    rows: dict[str, object] = field(default_factory=dict)


@dataclass
class World:
    site_a: Site
    site_b: Site
    a: Place
    b: Place
    unassigned: Place
    operator_a: object
    superuser: object

    def rows_of(self, label: str) -> tuple[object, object, object]:
        return self.a.rows[label], self.b.rows[label], self.unassigned.rows[label]


def _place(charger_id: str, site: Site | None, number: int) -> Place:
    station = ChargingStation.objects.create(charger_id=charger_id, site=site)
    tx = Transaction.objects.create(
        station=station, transaction_id=f"tx-{charger_id}", id_tag="T", started_at=T0
    )
    rows = {
        "chargers.chargingstation": station,
        "transactions.transaction": tx,
        "transactions.metervalue": MeterValue.objects.create(
            station=station, connector_id=1, transaction=tx, timestamp=T0, value="1"
        ),
        "rfid.idtag": IdTag.objects.create(id_tag=f"TAG-{charger_id}", site=site),
        "reservations.reservation": Reservation.objects.create(
            station=station,
            reservation_id=number,
            id_tag="T",
            expires_at=timezone.now() + timedelta(hours=1),
        ),
        "commands.chargercommand": ChargerCommand.objects.create(
            station=station, action="Reset", payload={"type": "Soft"}, timeout_s=30
        ),
        "ocpp.messagelog": MessageLog.objects.create(
            charger_id=charger_id, direction="in", frame='[2,"1","Heartbeat",{}]', created_at=T0
        ),
        "chargers.statusevent": StatusEvent.objects.create(
            station=station, connector_id=1, status="Available"
        ),
        "security.securityevent": SecurityEvent.objects.create(
            station=station,
            charger_id=charger_id,
            source="station",
            event_type="TamperDetectionActivated",
            occurred_at=T0,
        ),
    }
    return Place(station=station, rows=rows)


def site_operator(username: str, *sites: Site):
    """A staff member with every permission but "all sites", a member of `sites`."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(codename="all_sites"))
    for site in sites:
        SiteMembership.objects.create(user=user, site=site)
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def world(db) -> World:
    site_a = Site.objects.create(name="Depot A", time_zone="Europe/Rome")
    site_b = Site.objects.create(name="Depot B")
    return World(
        site_a=site_a,
        site_b=site_b,
        a=_place("CP-A", site_a, 1),
        b=_place("CP-B", site_b, 2),
        unassigned=_place("CP-U", None, 3),
        operator_a=site_operator("operator-a", site_a),
        superuser=get_user_model().objects.create_superuser("root", "r@example.com", PASSWORD),
    )
