"""connection_admit without sockets: lockout, the failure count, a cache that is down."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.chargers.models import ChargingStation, RegistrationStatus, SecurityProfile
from apps.core.timeutil import utcnow
from apps.protocol.handshake import Credentials
from apps.security.admission import Admission, Refused, connection_admit
from apps.security.certificates import issued_certificate_revoke
from apps.security.models import IssuedCertificate, SecurityEvent
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


def attempt(password: str, peer_ip: str = "192.0.2.1") -> bool:
    credentials = Credentials(peer_ip=peer_ip, basic_user="ADM-1", basic_password=password)
    return connection_admit(charger_id="ADM-1", credentials=credentials).allowed


def test_it_admits_the_right_password_with_the_station(password):
    credentials = Credentials(peer_ip="192.0.2.1", basic_user="ADM-1", basic_password=password)
    admission = connection_admit(charger_id="ADM-1", credentials=credentials)
    assert admission.allowed
    assert admission.station is not None and admission.station.charger_id == "ADM-1"
    assert admission.profile == SecurityProfile.BASIC


def test_repeated_failures_lock_their_source_out_even_for_the_right_password(password):
    assert [attempt("wrong") for _ in range(3)] == [False] * 3
    assert not attempt(password)


def test_a_locked_source_does_not_lock_the_station_out_elsewhere(password):
    assert [attempt("wrong", "198.51.100.7") for _ in range(3)] == [False] * 3
    assert not attempt(password, "198.51.100.7")
    assert attempt(password, "192.0.2.1")
    # Failures from the station's own address are still counted on their own.
    assert not attempt("wrong", "192.0.2.1")
    assert attempt(password, "192.0.2.1")


def test_no_lockout_when_the_limit_is_zero(settings, password):
    settings.OCPP_AUTH_MAX_FAILURES = 0
    assert [attempt("wrong") for _ in range(10)] == [False] * 10
    assert attempt(password)
    assert not SecurityEvent.objects.filter(event_type="AuthenticationLockout").exists()


@pytest.mark.parametrize(
    ("profile", "tls", "refused"),
    [
        # No credentials where a password would reach the profile: ask for one (401).
        (SecurityProfile.BASIC, False, Refused.CREDENTIALS),
        (SecurityProfile.TLS_BASIC, True, Refused.CREDENTIALS),
        # A password alone cannot: TLS or a certificate is missing (403).
        (SecurityProfile.TLS_BASIC, False, Refused.FORBIDDEN),
        (SecurityProfile.TLS_CLIENT_CERT, True, Refused.FORBIDDEN),
    ],
)
def test_a_downgrade_says_whether_credentials_could_help(settings, profile, tls, refused):
    settings.OCPP_ALLOW_UNSECURED = True
    ChargingStation.objects.create(charger_id="ADM-2", security_profile=profile)
    credentials = Credentials(peer_ip="192.0.2.1", tls=tls)
    admission = connection_admit(charger_id="ADM-2", credentials=credentials)
    assert not admission.allowed
    assert (admission.reason, admission.refused) == (
        f"security profile {profile} required",
        refused,
    )


def test_each_refusal_says_what_kind_it_is(password):
    wrong = Credentials(peer_ip="192.0.2.9", basic_user="ADM-1", basic_password="wrong")
    kinds = [connection_admit(charger_id="ADM-1", credentials=wrong).refused for _ in range(4)]
    assert kinds == [Refused.CREDENTIALS] * 3 + [Refused.LOCKED]
    failed = Credentials(
        peer_ip="192.0.2.1", tls=True, client_cert_verify="FAILED", client_cert_cn="ADM-1"
    )
    assert connection_admit(charger_id="ADM-1", credentials=failed).refused is Refused.FORBIDDEN
    assert (
        connection_admit(
            charger_id="ADM-1",
            credentials=Credentials(
                peer_ip="192.0.2.1", basic_user="ADM-1", basic_password=password
            ),
        ).refused
        is None
    )


def test_a_verified_certificate_passes_a_locked_source(password):
    assert [attempt("wrong") for _ in range(3)] == [False] * 3
    certified = Credentials(
        peer_ip="192.0.2.1", tls=True, client_cert_verify="SUCCESS", client_cert_cn="ADM-1"
    )
    admission = connection_admit(charger_id="ADM-1", credentials=certified)
    assert admission.allowed and admission.profile == SecurityProfile.TLS_CLIENT_CERT
    # Not a certificate for another id, nor one that failed verification, nor one over plain ws.
    for credentials in (
        Credentials(
            peer_ip="192.0.2.1", tls=True, client_cert_verify="SUCCESS", client_cert_cn="X"
        ),
        Credentials(
            peer_ip="192.0.2.1", tls=True, client_cert_verify="FAILED", client_cert_cn="ADM-1"
        ),
        Credentials(peer_ip="192.0.2.1", client_cert_verify="SUCCESS", client_cert_cn="ADM-1"),
    ):
        assert connection_admit(charger_id="ADM-1", credentials=credentials).reason.startswith(
            "locked out"
        ), credentials


def test_an_admission_costs_one_cache_round_trip(password, monkeypatch):
    calls: list[str] = []
    inside: list[str] = []  # the local-memory cache's get_many calls its own get: not counted
    for name in ("get", "get_many", "set", "add", "incr", "delete", "set_many", "delete_many"):
        original = getattr(cache, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            if not inside:
                calls.append(_name)
            inside.append(_name)
            try:
                return _original(*args, **kwargs)
            finally:
                inside.pop()

        monkeypatch.setattr(cache, name, counted)
    assert attempt(password)
    assert calls == ["get_many"]


def test_a_revoked_certificate_is_refused_by_its_serial(password):
    station = ChargingStation.objects.get(charger_id="ADM-1")
    issued = IssuedCertificate.objects.create(
        station=station,
        kind="ChargingStationCertificate",
        serial="abc123",
        subject="CN=ADM-1",
        not_before=utcnow(),
        not_after=utcnow(),
        pem="",
    )

    def certified() -> Admission:
        credentials = Credentials(
            peer_ip="192.0.2.1",
            tls=True,
            client_cert_verify="SUCCESS",
            client_cert_cn="ADM-1",
            client_cert_serial="abc123",
        )
        return connection_admit(charger_id="ADM-1", credentials=credentials)

    assert certified().allowed
    issued_certificate_revoke(certificate=issued, reason="keyCompromise")
    admission = certified()
    assert (admission.allowed, admission.refused) == (False, Refused.FORBIDDEN)
    event = SecurityEvent.objects.filter(event_type="InvalidChargingStationCertificate").get()
    assert event.tech_info.startswith("certificate abc123 revoked")
