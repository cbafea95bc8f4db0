"""A node without hardware starts cleanly.

A Control node (whose role defaults the reader, the LCD and the access point on) is served in
its own process, the way start.sh serves it, on a machine with no devices at all: an empty
NODE_DEV_ROOT and no desktop. It answers /healthz, a charger boots and is accepted, this
node's record is refreshed, every hardware feature reads "not detected", the hardware services
are recorded idle, and nothing in the log is a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import websockets

from apps.hardware import services
from apps.nodes.features import CATALOGUE
from tests.faults.processes import Database, Server, eventually, manage

pytestmark = pytest.mark.slow

CHARGER = "CLEAN-START-1"


async def boot(server: Server) -> dict:
    async with websockets.connect(
        f"{server.ws_url}/ocpp/{CHARGER}", subprotocols=["ocpp1.6"]
    ) as ws:
        payload = {"chargePointVendor": "V", "chargePointModel": "M"}
        await ws.send(json.dumps([2, "boot-1", "BootNotification", payload]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert reply[:2] == [3, "boot-1"], reply
    return reply[2]


def test_a_control_node_without_hardware_starts_cleanly(
    make_server: Callable[..., Server], sqlite_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "no-devices"
    root.mkdir()
    server = make_server(
        sqlite_url,
        NODE_ROLE="control",
        NODE_NAME="pi-without-hardware",
        NODE_DEV_ROOT=str(root),
        DISPLAY="",
        WAYLAND_DISPLAY="",
        # Test servers run no hardware services (tests/conftest.py); this one must.
        HARDWARE_SERVICES="true",
    )
    server.start()
    database = Database(sqlite_url)

    status, _body = server.health()
    assert status == 200
    assert asyncio.run(boot(server))["status"] == "Accepted"

    # This node's record, made from the settings and refreshed when the server started.
    name, role, hostname, version, last_seen = eventually(
        lambda: next(
            iter(
                database.rows(
                    "SELECT name, role, hostname, version, last_seen FROM nodes_node "
                    "WHERE local AND last_seen IS NOT NULL"
                )
            ),
            None,
        ),
        30,
        "the local node refreshed",
    )
    assert (name, role) == ("pi-without-hardware", "control")
    assert hostname and version and last_seen

    # Every hardware feature: not detected, so not active.
    shown = manage(server.env, "node", "--json")
    assert shown.returncode == 0, shown.stderr
    states = {item["slug"]: item for item in json.loads(shown.stdout)["features"]}
    assert list(states) == list(CATALOGUE)
    hardware = [slug for slug, feature in CATALOGUE.items() if feature.hardware]
    assert hardware
    for slug in hardware:
        assert states[slug]["detected"] is False, states[slug]
        assert states[slug]["active"] is False, states[slug]
        assert ", not detected: " in states[slug]["state"], states[slug]
    assert states["lcd-screen"]["detail"] == "no I2C bus at /dev/i2c-1"

    # The services' supervisor runs in the server process and holds this node's lock; each
    # registered service is recorded.
    lock = Path(server.env["DATA_DIR"]) / "run" / "hardware.lock"
    eventually(lambda: lock.read_text() == str(server.pid), 30, "the server holds the lock")
    expected = len(services._factories)

    def recorded() -> list[tuple] | None:
        rows = database.rows("SELECT name, feature, state FROM hardware_servicestatus")
        return rows if len(rows) == expected else None

    # (No service registered: nothing to wait for, and no row may appear.)
    rows = eventually(recorded, 30, f"{expected} services recorded") if expected else recorded()
    assert rows is not None
    # Those of the devices are idle; a service of a feature found without devices (the Celery
    # queue's file broker, nginx on PATH) may run.
    assert all(state == "idle" for _name, feature, state in rows if feature in hardware), rows

    assert "Traceback" not in server.log()
    server.stop()
    assert "Traceback" not in server.log()
