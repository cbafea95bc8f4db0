"""The simulator's parts without the CSMS: power curve, key store, handshake, reconnects."""

from __future__ import annotations

import asyncio
import base64
import json
import random

import pytest
from websockets.asyncio.server import ServerConnection, serve

from apps.simulator.charger import SimulatedCharger
from apps.simulator.curve import ChargingCurve, Meter, curve_for_session
from apps.simulator.fleet import charger_ids
from apps.simulator.keystore import KeyStore, Verdict
from apps.simulator.state import ChargerConfig, charger_url
from tests.simulator.conftest import until


def test_the_current_ramps_up_holds_then_tapers_as_the_battery_fills():
    curve = ChargingCurve(capacity_wh=200, soc=0.5, max_current_a=32, phases=3, ramp_s=4)
    ramp = []
    for _ in range(4):
        ramp.append(curve.current_a())
        curve.advance(1)
    assert ramp == sorted(ramp) and ramp[0] == 0
    assert curve.current_a() == pytest.approx(32)  # constant current once ramped
    while curve.soc < 0.8:
        curve.advance(1)
    taper = []
    while not curve.full and len(taper) < 2000:
        taper.append(curve.current_a())
        curve.advance(1)
    assert taper[0] < 32 and taper == sorted(taper, reverse=True)
    assert curve.full and curve.current_a() == 0


def test_the_register_integrates_power():
    meter = Meter(energy_wh=1000.0, phases=3, rng=random.Random(1))
    meter.curve = ChargingCurve(capacity_wh=1e9, soc=0.2, max_current_a=16, phases=3, ramp_s=0)
    meter.advance(3600)
    # 16 A on three phases of 230 V for an hour.
    assert meter.energy_wh - 1000 == pytest.approx(16 * 230 * 3, rel=1e-6)
    reading = meter.reading()
    assert len(reading.current_a) == len(reading.voltage_v) == 3
    assert reading.power_w == pytest.approx(16 * 230 * 3, rel=0.03)
    assert reading.soc_percent == 20


def test_a_planned_session_goes_from_ramp_to_full_within_its_duration():
    rng = random.Random(7)
    curve = curve_for_session(rng=rng, charger_max_current_a=32, phases=3, duration_s=60, ramp_s=4)
    for _ in range(60):
        curve.advance(1)
    assert curve.soc > 0.97
    assert curve.energy_wh > 0


def test_the_key_store_knows_readonly_write_only_and_unknown_keys():
    store = KeyStore(v16=True, evses=2)
    assert store.read("", None, "NumberOfConnectors") == ("Accepted", "2")
    assert store.write("", None, "NumberOfConnectors", "4") == Verdict.REJECTED
    assert store.write("", None, "HeartbeatInterval", "-5") == Verdict.REJECTED
    assert store.write("", None, "HeartbeatInterval", " 60 ") == Verdict.ACCEPTED
    assert store.get_int("heartbeat_interval") == 60
    assert store.write("", None, "AuthorizeRemoteTxRequests", "TRUE") == Verdict.ACCEPTED
    assert store.get_bool("authorize_remote_start")
    assert store.write("", None, "MeterValuesSampledData", "Voltage,Nope") == Verdict.REJECTED
    # 1.6 security whitepaper: AuthorizationKey is the hex of the password's bytes.
    assert store.write("", None, "AuthorizationKey", "s3cret") == Verdict.REJECTED
    assert store.write("", None, "AuthorizationKey", b"s3cret".hex()) == Verdict.ACCEPTED
    assert store.read("", None, "AuthorizationKey") == ("Rejected", None)
    assert store.get("password") == "s3cret"
    assert store.write("", None, "Nope", "1") == Verdict.UNKNOWN_VARIABLE

    v2 = KeyStore(v16=False, evses=2)
    assert v2.read("EVSE", 2, "AvailabilityState") == ("Accepted", "Available")
    assert v2.read("EVSE", 3, "AvailabilityState")[0] == Verdict.UNKNOWN_VARIABLE
    assert v2.read("NoCtrlr", None, "X")[0] == Verdict.UNKNOWN_COMPONENT


def test_charger_ids_and_urls():
    assert charger_ids("SIM-", 3) == ["SIM-0001", "SIM-0002", "SIM-0003"]
    assert charger_ids("X", 2, first=99_999)[-1] == "X100000"
    assert charger_url("ws://h:1/ocpp/", "A B/1") == "ws://h:1/ocpp/A%20B%2F1"


class FakeCsms:
    """A bare OCPP 1.6 endpoint: answers boots and statuses, drops the first connection."""

    def __init__(self) -> None:
        self.connections: list[str | None] = []
        self.boots = 0

    async def handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws.request.headers.get("Authorization"))
        first = len(self.connections) == 1
        async for text in ws:
            _, message_id, action, _payload = json.loads(text)
            answer: dict = {}
            if action == "BootNotification":
                self.boots += 1
                answer = {
                    "status": "Accepted",
                    "currentTime": "2025-01-01T00:00:00Z",
                    "interval": 60,
                }
            elif action == "Heartbeat":
                answer = {"currentTime": "2025-01-01T00:00:00Z"}
            await ws.send(json.dumps([3, message_id, answer]))
            if first and action == "StatusNotification":
                await ws.close(1011, "going away for a test")
                return


async def test_it_sends_basic_auth_and_reconnects_after_a_dropped_connection():
    fake = FakeCsms()
    async with serve(fake.handle, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        charger = SimulatedCharger(
            ChargerConfig(
                charger_id="SIM-AUTH",
                url=f"ws://127.0.0.1:{port}/ocpp/",
                mode="idle",
                password="s3cret-pass",
                reconnect_min_s=0.05,
            )
        )
        task = asyncio.create_task(charger.run())
        try:
            await until(lambda: fake.boots >= 2 and charger.accepted, what="a second boot")
        finally:
            charger.stop()
            await asyncio.wait_for(task, 10)
    expected = "Basic " + base64.b64encode(b"SIM-AUTH:s3cret-pass").decode()
    assert fake.connections == [expected, expected]
    assert charger.stats.connections == 2
    assert charger.stats.errors == 1
    assert "1011" in charger.stats.last_error
    assert charger.stats.connected == charger.stats.booted == 0


async def test_it_keeps_retrying_when_nothing_listens():
    charger = SimulatedCharger(
        ChargerConfig(
            charger_id="SIM-NOBODY",
            url="ws://127.0.0.1:9/ocpp/",
            reconnect_min_s=0.01,
            reconnect_max_s=0.05,
        )
    )
    task = asyncio.create_task(charger.run())
    try:
        await until(lambda: charger.stats.errors >= 3, what="three failed attempts")
    finally:
        charger.stop()
        await asyncio.wait_for(task, 10)
    assert charger.stats.connections == 0
    assert charger.stats.booted == 0
