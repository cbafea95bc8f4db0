"""A small graph of every kind of object the bundle carries, and how to compare it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models

from apps.chargers.models import ChargingStation, Connector, Site
from apps.dashboard.models import Favorite
from apps.energy.models import EnergyAccount, Tariff
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag
from apps.security.passwords import password_hash

SECRET = "station-secret-password-1234"
T1 = datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)


def build_graph(*, owner_username: str = "alice") -> dict[str, Any]:
    """Create one of each object (a station with a password hash) and return them."""
    owner, _ = get_user_model().objects.get_or_create(username=owner_username)
    site = Site.objects.create(name="Depot", address="Via Roma 1", time_zone="Europe/Rome")
    station = ChargingStation.objects.create(
        charger_id="CP-1",
        name="Gate",
        site=site,
        registration_status="Accepted",
        security_profile=1,
        password_hash=password_hash(SECRET),
        pending_password_hash=password_hash(SECRET + "x"),
        vendor="ACME",
        heartbeat_interval=300,
    )
    other = ChargingStation.objects.create(charger_id="CP-2")
    account = EnergyAccount.objects.create(
        name="Alice home", owner=owner, credit_limit=Decimal("12.5"), group="staff"
    )
    other_account = EnergyAccount.objects.create(name="Fleet", organisation="ACME")
    parent = IdTag.objects.create(id_tag="PARENT-1", label="Family", account=account)
    card = IdTag.objects.create(
        id_tag="CARD-1", parent=parent, account=account, expiry_date=T1, in_local_list=True
    )
    fleet_card = IdTag.objects.create(id_tag="FLEET-1", account=other_account)
    tariff = Tariff.objects.create(
        code="std",
        version=2,
        name="Standard",
        station=station,
        energy_price=Decimal("0.35"),
        vat_percent=Decimal("22"),
        bands=[{"from": "22:00", "to": "06:00", "energy_price": "0.20"}],
        valid_from=T1,
    )
    default_tariff = Tariff.objects.create(code="std", version=1, name="Default", valid_from=T1)
    connector = Connector.objects.create(station=station, connector_id=1)
    reservation = Reservation.objects.create(
        station=station,
        connector=connector,
        reservation_id=4242,
        id_tag="CARD-1",
        account=account,
        expires_at=T1,
        status="accepted",
    )
    favorite = Favorite.objects.create(
        user=owner, label="Faulted", url="/admin/chargers/connector/?status=Faulted", position=1
    )
    return locals()


def snapshot() -> dict[str, list[tuple]]:
    """Return every carried object's values by natural key (no ids), to compare databases."""
    return {
        "sites": list(Site.objects.order_by("name").values_list("name", "address", "time_zone")),
        "stations": list(
            ChargingStation.objects.order_by("charger_id").values_list(
                "charger_id",
                "name",
                "site__name",
                "registration_status",
                "security_profile",
                "vendor",
                "heartbeat_interval",
            )
        ),
        "accounts": list(
            EnergyAccount.objects.order_by("name").values_list(
                "name", "owner__username", "organisation", "credit_limit", "group", "status"
            )
        ),
        "id_tags": list(
            IdTag.objects.order_by("id_tag").values_list(
                "id_tag",
                "parent__id_tag",
                "account__name",
                "expiry_date",
                "in_local_list",
                "label",
                "status",
            )
        ),
        "tariffs": list(
            Tariff.objects.order_by("code", "version").values_list(
                "code",
                "version",
                "name",
                "station__charger_id",
                "energy_price",
                "vat_percent",
                "bands",
                "valid_from",
            )
        ),
        "reservations": list(
            Reservation.objects.order_by("reservation_id").values_list(
                "reservation_id",
                "station__charger_id",
                "connector__connector_id",
                "id_tag",
                "account__name",
                "expires_at",
                "status",
            )
        ),
        "favorites": list(
            Favorite.objects.order_by("user__username", "url").values_list(
                "user__username", "label", "url", "position"
            )
        ),
    }


def counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in (
            Site,
            ChargingStation,
            EnergyAccount,
            IdTag,
            Tariff,
            Reservation,
            Connector,
            Favorite,
        )
    }


def field_values(model: type[models.Model]) -> list[dict[str, Any]]:
    return list(model.objects.order_by("pk").values())
