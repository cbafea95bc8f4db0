"""Simulators in the admin: start and stop in the server process, counters on the row."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import RequestFactory

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.rfid.models import IdTag
from apps.simulator.models import Simulator
from apps.simulator.runner import runner
from apps.simulator.selectors import simulator_target_url
from apps.simulator.services import stations_register
from apps.transactions.models import Transaction

CHANGELIST = "/admin/simulator/simulator/"


def poll(check: Callable[[], Any], within: float = 20.0, what: str = "") -> Any:
    """Return check()'s first true result, polling for at most `within` seconds."""
    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.05)
    return result


@pytest.mark.django_db(transaction=True)
def test_start_and_stop_actions_run_the_chargers_and_report_counters(admin_client, asgi_server):
    simulator = Simulator.objects.create(
        name="Two idle chargers",
        ocpp_version="ocpp2.0.1",
        charger_count=2,
        prefix="ADM-",
        mode=Simulator.Mode.IDLE,
        meter_interval=1,
        url=f"{asgi_server.ws_url}/ocpp/",
    )
    response = admin_client.post(
        CHANGELIST, {"action": "start_simulators", "_selected_action": [simulator.pk]}
    )
    assert response.status_code == 302
    try:
        assert runner.is_running(simulator.pk)
        running = poll(
            lambda: Simulator.objects.filter(
                pk=simulator.pk, status="running", counters__booted=2
            ).first(),
            what="both chargers booted, as reported on the row",
        )
        assert running.started_at is not None
        assert running.counters["connected"] == 2
        stations = ChargingStation.objects.filter(charger_id__in=["ADM-0001", "ADM-0002"])
        assert stations.filter(is_connected=True, ocpp_version="ocpp2.0.1").count() == 2

        page = admin_client.get(CHANGELIST)
        assert b"2/2 connected" in page.content
        again = admin_client.post(
            CHANGELIST, {"action": "start_simulators", "_selected_action": [simulator.pk]},
            follow=True,
        )  # fmt: skip
        assert b"already running" in again.content
    finally:
        response = admin_client.post(
            CHANGELIST, {"action": "stop_simulators", "_selected_action": [simulator.pk]}
        )
    assert response.status_code == 302
    assert not runner.is_running(simulator.pk)
    stopped = Simulator.objects.get(pk=simulator.pk)
    assert stopped.status == Simulator.Status.STOPPED
    assert stopped.stopped_at is not None
    assert stopped.counters["connected"] == 0
    assert stopped.counters["boots"] == 2
    assert stopped.counters["errors"] == 0, stopped.last_error
    poll(
        lambda: (
            not ChargingStation.objects.filter(
                charger_id__startswith="ADM-", is_connected=True
            ).exists()
        ),
        what="the stations disconnected",
    )


@pytest.mark.django_db(transaction=True)
def test_a_simulator_stopped_elsewhere_stops_at_its_next_report(asgi_server, monkeypatch):
    from apps.simulator import services

    monkeypatch.setattr(runner, "report_every_s", 0.1)
    simulator = Simulator.objects.create(
        name="Stopped by another process",
        charger_count=1,
        prefix="ELSE-",
        mode=Simulator.Mode.IDLE,
        url=f"{asgi_server.ws_url}/ocpp/",
    )
    services.simulator_start(simulator=simulator)
    try:
        poll(
            lambda: Simulator.objects.filter(pk=simulator.pk, counters__booted=1).exists(),
            what="booted",
        )
        # What simulator_stop does in a process that does not hold the fleet.
        Simulator.objects.filter(pk=simulator.pk).update(status=Simulator.Status.STOPPED)
        poll(lambda: not runner.is_running(simulator.pk), what="the runner stopped it")
    finally:
        runner.stop(simulator.pk)
    assert Simulator.objects.get(pk=simulator.pk).counters["connected"] == 0


@pytest.mark.django_db
def test_the_form_checks_charger_ids_and_id_tags(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 200
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "name": "Too long",
            "ocpp_version": "ocpp1.6",
            "charger_count": 10,
            "prefix": "P" * 46,
            "connectors": 1,
            "meter_interval": 10,
            "mode": "scripted",
            "id_tag": "A-VERY-LONG-TAG{n}-{c}-X",
            "url": "http://not-a-websocket/",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"prefix", "id_tag", "url"}
    assert not Simulator.objects.exists()


def test_the_target_url_defaults_to_this_server(settings):
    simulator = Simulator(name="x")
    request = RequestFactory().get("/", SERVER_NAME="0.0.0.0", SERVER_PORT="8123")
    assert simulator_target_url(simulator=simulator, request=request) == (
        "ws://127.0.0.1:8123/ocpp/"
    )
    request = RequestFactory().get("/", SERVER_NAME="192.0.2.7", SERVER_PORT="8000")
    assert simulator_target_url(simulator=simulator, request=request) == (
        "ws://192.0.2.7:8000/ocpp/"
    )
    settings.PUBLIC_URL = "https://csms.example.com/"
    assert simulator_target_url(simulator=simulator) == "wss://csms.example.com/ocpp/"
    settings.PUBLIC_URL = ""
    assert simulator_target_url(simulator=simulator) == "ws://127.0.0.1:8000/ocpp/"
    simulator.url = "ws://elsewhere:9000/ocpp/"
    assert simulator_target_url(simulator=simulator, request=request) == simulator.url


@pytest.mark.django_db
def test_registering_accepts_new_stations_but_not_rejected_ones(settings):
    settings.OCPP_UNKNOWN_STATIONS = "pending"
    stations_register(charger_ids=["REG-0002"], id_tags=[], label="Simulator test")
    # The operator rejects the station the simulator created: registering leaves it so.
    ChargingStation.objects.filter(charger_id="REG-0002").update(
        registration_status=RegistrationStatus.REJECTED
    )
    IdTag.objects.create(id_tag="REG-2", status="Blocked")
    accepted = stations_register(
        charger_ids=["REG-0001", "REG-0002"], id_tags=["REG-1", "REG-2"], label="Simulator test"
    )
    assert accepted == 1
    statuses = dict(
        ChargingStation.objects.filter(charger_id__startswith="REG-").values_list(
            "charger_id", "registration_status"
        )
    )
    assert statuses == {"REG-0001": "Accepted", "REG-0002": "Rejected"}
    tags = dict(IdTag.objects.filter(id_tag__startswith="REG-").values_list("id_tag", "status"))
    assert tags == {"REG-1": "Accepted", "REG-2": "Blocked"}


@pytest.mark.django_db(transaction=True)
def test_against_this_server_it_registers_its_stations_with_a_password(asgi_server, settings):
    from apps.simulator import services

    settings.OCPP_ALLOW_UNSECURED = False
    settings.OCPP_UNKNOWN_STATIONS = "pending"
    settings.PUBLIC_URL = asgi_server.http_url
    simulator = Simulator.objects.create(
        name="Try it", charger_count=2, prefix="TRY-", meter_interval=0.2, session_duration=0.6
    )
    services.simulator_start(simulator=simulator)
    try:
        poll(
            lambda: (
                Transaction.objects.filter(
                    station__charger_id__startswith="TRY-",
                    stopped_at__isnull=False,
                    authorization_status="Accepted",
                ).count()
                >= 2
            ),
            what="sessions of both chargers",
        )
    finally:
        services.simulator_stop(simulator=simulator)
    simulator.refresh_from_db()
    assert len(simulator.password) >= 16  # generated, and kept to be sent
    stations = ChargingStation.objects.filter(charger_id__startswith="TRY-")
    assert {(s.registration_status, s.security_profile) for s in stations} == {("Accepted", 1)}
    assert simulator.counters["errors"] == 0, simulator.last_error


@pytest.mark.django_db(transaction=True)
def test_a_simulator_asking_for_certificates_shows_them_on_its_page(
    admin_client, asgi_server, settings, tmp_path
):
    # Its own keystore: a certificate kept by an earlier run would make it ask for none.
    settings.DATA_DIR = tmp_path
    simulator = Simulator.objects.create(
        name="Certified",
        ocpp_version="ocpp1.6",
        charger_count=1,
        prefix="ADMCERT-",
        mode=Simulator.Mode.IDLE,
        url=f"{asgi_server.ws_url}/ocpp/",
        request_certificate=True,
    )
    start = {"action": "start_simulators", "_selected_action": [simulator.pk]}
    admin_client.post(CHANGELIST, start)
    try:
        poll(
            lambda: Simulator.objects.filter(
                pk=simulator.pk, counters__certificates_signed=1
            ).exists(),
            what="the station certificate received, as reported on the row",
        )
        page = admin_client.get(f"{CHANGELIST}{simulator.pk}/change/")
    finally:
        runner.stop(simulator.pk)
    assert b"station certificates received: <b>1</b>" in page.content
    assert b"certificate signing requests sent: <b>1</b>" in page.content
    assert Simulator.objects.get(pk=simulator.pk).counters["errors"] == 0
