"""connection_admit without sockets: lockout, the failure count, a cache that is down."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.chargers.models import ChargingStation, RegistrationStatus, SecurityProfile
from apps.protocol.handshake import Credentials
from apps.security.admission import connection_admit
from apps.security.services import station_password_set

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockout_after_three(settings):
    settings.OCPP_AUTH_MAX_FAILURES = 3
    settings.OCPP_AUTH_LOCKOUT_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    station = ChargingStation.objects.create(
        charger_id="ADM-1",
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=SecurityProfile.BASIC,
    )
    return station_password_set(station=station)


def attempt(password: str) -> bool:
    credentials = Credentials(peer_ip="192.0.2.1", basic_user="ADM-1", basic_password=password)
    return connection_admit(charger_id="ADM-1", credentials=credentials).allowed


def test_it_admits_the_right_password_with_the_station(password):
    credentials = Credentials(peer_ip="192.0.2.1", basic_user="ADM-1", basic_password=password)
    admission = connection_admit(charger_id="ADM-1", credentials=credentials)
    assert admission.allowed
    assert admission.station is not None and admission.station.charger_id == "ADM-1"
    assert admission.profile == SecurityProfile.BASIC


def test_repeated_failures_lock_the_id_out_even_for_the_right_password(password):
    assert [attempt("wrong") for _ in range(3)] == [False] * 3
    assert not attempt(password)


def test_a_success_forgives_the_failures_before_it(password):
    assert not attempt("wrong")
    assert not attempt("wrong")
    assert attempt(password)
    # Two more failures are two, not four: no lockout.
    assert not attempt("wrong")
    assert not attempt("wrong")
    assert attempt(password)


def test_without_the_cache_connections_are_judged_by_their_credentials(password, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "delete", down)
    assert attempt(password)
    assert not attempt("wrong")
