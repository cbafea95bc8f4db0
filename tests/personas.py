"""Shared personas and data: users holding given permissions, stations, connectors.

Loaded for every test by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from apps.chargers.models import ChargingStation
from apps.chargers.services import ConnectorStatus, connector_status_update

OPERATOR_PASSWORD = "a-long-test-password-42"
T0 = datetime(2025, 1, 31, 8, 15, 0, 250000, tzinfo=UTC)


def grant(user, *perms: str) -> None:
    """Give `user` each `app_label.codename` permission."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


# Operators of every site: the personas of the tests that are not about sites (tests of
# sites make members of one site: tests/chargers/test_tenancy*.py).
ALL_SITES = "chargers.all_sites"


@pytest.fixture
def make_user(django_user_model) -> Callable:
    counter = iter(range(1, 1000))

    def make(*perms: str):
        user = django_user_model.objects.create_user(
            username=f"operator{next(counter)}", password="a-long-test-password"
        )
        grant(user, ALL_SITES, *perms)
        return user

    return make


@pytest.fixture
def client_with(make_user) -> Callable[..., APIClient]:
    """Return an APIClient logged in as a new user holding `perms`."""

    def make(*perms: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_user(*perms))
        return client

    return make


@pytest.fixture
def make_station() -> Callable[..., ChargingStation]:
    def make(charger_id: str, **fields) -> ChargingStation:
        return ChargingStation.objects.create(charger_id=charger_id, **fields)

    return make


def add_connector(station: ChargingStation, connector_id: int, status: str) -> None:
    connector_status_update(
        station_id=station.pk,
        report=ConnectorStatus(connector_id=connector_id, status=status, timestamp=T0),
    )


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser(
        "operator", "op@example.com", OPERATOR_PASSWORD
    )


@pytest.fixture
def viewer(db):
    """A staff member who may only view stations (and nothing else)."""
    user = get_user_model().objects.create_user(
        "viewer", "v@example.com", OPERATOR_PASSWORD, is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_chargingstation"))
    grant(user, ALL_SITES)
    return user
