"""Registering simulated chargers never touches a station the simulator did not create (#20)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.chargers.services import station_set_registration
from apps.simulator.models import SimulatedStation, Simulator
from apps.simulator.runner import runner
from apps.simulator.selectors import simulator_prefix_free, simulator_station_ids
from apps.simulator.services import StationsNotOurs, simulator_stop, stations_register
from tests.simulator.conftest import db, eventually, running

CHANGELIST = "/admin/simulator/simulator/"
REAL_PASSWORD = "the-real-stations-password"


def defaults_form(admin_client: Any, name: str) -> dict[str, Any]:
    """Return the admin's add form as an operator submits it after typing only a name."""
    form = admin_client.get(f"{CHANGELIST}add/").context["adminform"].form
    data: dict[str, Any] = {}
    for field in form.fields:
        value = form[field].value()
        if value is True:
            data[field] = "on"
        elif value not in (None, False):
            data[field] = value
    data["name"] = name
    return data


def station_state(charger_id: str) -> tuple[str, str, bool]:
    station = ChargingStation.objects.get(charger_id=charger_id)
    return station.password_hash, station.connection_id, station.is_connected


async def connected_real_station(asgi_server: Any, settings: Any) -> dict[str, Any]:
    """Register SIM-0001..3 as manage.py simulate --register does; return the charger's config."""
    settings.OCPP_ALLOW_UNSECURED = False
    settings.PUBLIC_URL = asgi_server.http_url  # admin simulators aim at this server
    await db(
        stations_register,
        charger_ids=["SIM-0001", "SIM-0002", "SIM-0003"],
        id_tags=[],
        label="Simulator (manage.py simulate)",
        password=REAL_PASSWORD,
    )
    return {"password": REAL_PASSWORD, "mode": "idle"}


@pytest.mark.django_db(transaction=True)
async def test_a_default_admin_simulator_leaves_a_connected_registered_station_alone(
    admin_client, asgi_server, settings
):
    options = await connected_real_station(asgi_server, settings)
    async with running(asgi_server, "SIM-0001", "1.6", **options) as real:
        await eventually(lambda: station_state("SIM-0001")[2], what="SIM-0001 connected")
        before = await db(station_state, "SIM-0001")

        data = await db(defaults_form, admin_client, "Only a name")
        assert data["prefix"] != "SIM-"
        assert data["register_stations"] == "on"
        response = await db(admin_client.post, f"{CHANGELIST}add/", data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        simulator = await db(Simulator.objects.get, name="Only a name")
        start = {"action": "start_simulators", "_selected_action": [simulator.pk]}
        # The request reached the test server: the simulator aims at its port.
        await db(admin_client.post, CHANGELIST, start, SERVER_PORT=str(asgi_server.port))
        try:
            await eventually(
                lambda: Simulator.objects.filter(pk=simulator.pk, counters__booted=1).exists(),
                what="the admin simulator's own charger booted",
            )
            after = await db(station_state, "SIM-0001")
            own = await db(simulator_station_ids, simulator=simulator)
            change_page = await db(admin_client.get, f"{CHANGELIST}{simulator.pk}/change/")
        finally:
            await db(simulator_stop, simulator=simulator)
        assert after == before  # same password, same connection, still connected
        assert real.stats.connections == 1
        assert real.stats.errors == 0, real.stats.last_error
        assert own == [f"{data['prefix']}0001"]
        # Its page lists them under "stations it created".
        assert f'<div class="readonly">{data["prefix"]}0001</div>' in change_page.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_a_simulator_refuses_to_register_over_a_station_it_did_not_create(
    admin_client, asgi_server, settings
):
    options = await connected_real_station(asgi_server, settings)
    async with running(asgi_server, "SIM-0001", "1.6", **options) as real:
        await eventually(lambda: station_state("SIM-0001")[2], what="SIM-0001 connected")
        before = await db(station_state, "SIM-0001")
        simulator = await db(Simulator.objects.create, name="Same prefix", prefix="SIM-")
        start = {"action": "start_simulators", "_selected_action": [simulator.pk]}
        response = await db(admin_client.post, CHANGELIST, start, follow=True)
        page = await db(admin_client.get, CHANGELIST)
        after = await db(station_state, "SIM-0001")
        await db(simulator.refresh_from_db)
    assert not runner.is_running(simulator.pk)
    assert simulator.status == Simulator.Status.ERROR
    assert "SIM-0001" in simulator.last_error
    assert b"were not created by this simulator" in response.content
    assert b"were not created by this simulator" in page.content  # the list says why
    assert after == before
    assert real.stats.connections == 1
    assert not await db(lambda: SimulatedStation.objects.filter(simulator=simulator).exists())


@pytest.mark.django_db
def test_registering_again_changes_only_the_simulators_own_stations():
    first = Simulator.objects.create(name="first", prefix="OWN-")
    second = Simulator.objects.create(name="second", prefix="OTHER-")
    stations_register(charger_ids=["OWN-0001"], id_tags=[], label="x", simulator=first)
    ChargingStation.objects.create(charger_id="OWN-0002")  # a real charger, say
    # Its own station again, with a new password: fine.
    stations_register(charger_ids=["OWN-0001"], id_tags=[], label="x", password="p" * 16,
                      simulator=first)  # fmt: skip
    hash_before = ChargingStation.objects.get(charger_id="OWN-0001").password_hash
    assert hash_before
    for who in (second, None):
        with pytest.raises(StationsNotOurs, match="OWN-0001"):
            stations_register(charger_ids=["OWN-0001"], id_tags=[], label="x", password="q" * 16,
                              simulator=who)  # fmt: skip
    with pytest.raises(StationsNotOurs, match="OWN-0002"):
        stations_register(
            charger_ids=["OWN-0001", "OWN-0002", "OWN-0003"], id_tags=["T"], label="x",
            simulator=first,
        )  # fmt: skip
    # Refused as a whole: nothing created, nothing changed.
    assert not ChargingStation.objects.filter(charger_id="OWN-0003").exists()
    assert ChargingStation.objects.get(charger_id="OWN-0001").password_hash == hash_before


@pytest.mark.django_db
def test_it_does_not_change_the_password_of_its_own_station_while_connected():
    stations_register(charger_ids=["LIVE-0001"], id_tags=[], label="x", password="a" * 16)
    ChargingStation.objects.filter(charger_id="LIVE-0001").update(is_connected=True)
    with pytest.raises(StationsNotOurs, match="connected now"):
        stations_register(charger_ids=["LIVE-0001"], id_tags=[], label="x", password="b" * 16)
    # The same password changes nothing, so it may run again.
    assert stations_register(charger_ids=["LIVE-0001"], id_tags=[], label="x", password="a" * 16)


@pytest.mark.django_db
def test_the_cli_refuses_to_register_over_a_station_it_did_not_create():
    ChargingStation.objects.create(charger_id="CLIREF-0001")
    with pytest.raises(CommandError, match="CLIREF-0001"):
        call_command("simulate", "--prefix=CLIREF-", "--register", "--duration=0.1")


@pytest.mark.django_db
def test_new_simulators_get_a_prefix_no_station_or_simulator_uses(admin_client):
    assert simulator_prefix_free() == "SIM1-"
    ChargingStation.objects.create(charger_id="SIM1-0001")
    assert defaults_form(admin_client, "a")["prefix"] == "SIM2-"
    Simulator.objects.create(name="b", prefix="SIM2-")
    assert defaults_form(admin_client, "c")["prefix"] == "SIM3-"


@pytest.mark.django_db
def test_the_form_refuses_a_prefix_another_simulator_has(admin_client):
    Simulator.objects.create(name="taken", prefix="DUP-")
    data = defaults_form(admin_client, "duplicate")
    data["prefix"] = "DUP-"
    response = admin_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"prefix"}


@pytest.mark.django_db
def test_an_operator_rejected_station_of_its_own_stays_rejected():
    simulator = Simulator.objects.create(name="own", prefix="REJ-")
    stations_register(charger_ids=["REJ-0001"], id_tags=[], label="x", simulator=simulator)
    station = ChargingStation.objects.get(charger_id="REJ-0001")
    station_set_registration(station=station, status=RegistrationStatus.REJECTED)
    assert (
        stations_register(charger_ids=["REJ-0001"], id_tags=[], label="x", simulator=simulator) == 0
    )
    station.refresh_from_db()
    assert station.registration_status == RegistrationStatus.REJECTED
