"""A card written to the reader's pty ends as a session on a simulated charger over a socket.

The real server (uvicorn on a loopback port) holds the charger's websocket; the simulated
charger answers RemoteStart / RequestStartTransaction by starting a transaction and RemoteStop
/ RequestStopTransaction by stopping it. The scanner runs under its real supervisor in its
own thread, reading the pty through pyserial, as it runs beside a server.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from apps.chargers.models import StatusEvent
from apps.commands.models import ChargerCommand, CommandStatus
from apps.hardware import services as supervisor
from apps.hardware.models import CardScan
from apps.hardware.rfid_readers import Debouncer
from apps.hardware.rfid_scanner import RfidScanner
from apps.nodes import features
from apps.nodes.services import set_switch
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.hardware.clock import Clock
from tests.hardware.pty_reader import Pty, rdm6300_frame
from tests.simulator.conftest import db, eventually, running, until

pytestmark = pytest.mark.django_db(transaction=True)

CARD = "0F00A1B2C3"
UNKNOWN = "0E00DDCCBB"


def opened_by_another(pty: Pty) -> bool:
    """Tell whether the slave is open twice in this process: ours, and the reader's."""
    fds = os.listdir("/proc/self/fd")
    return sum(1 for fd in fds if _link(f"/proc/self/fd/{fd}") == pty.name) >= 2


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


async def present(pty: Pty, clock: Clock, uid: str) -> None:
    """Present a card, long after the last one, and wait until the scanner has handled it.

    The scanner asks the clock twice per scan: whether the card is new, and once the scan is
    handled, to count it as held until then.
    """
    looks = clock.calls
    clock.now += 10
    pty.write(rdm6300_frame(bytes.fromhex(uid)))
    await until(lambda: clock.calls >= looks + 2, within=30, what=f"card {uid} handled")


def nth_scan(n: int) -> Callable[[], CardScan | None]:
    return lambda: CardScan.objects.order_by("id")[n - 1 : n].first()


def commands(charger_id: str) -> list[tuple[str, dict[str, Any], str]]:
    return list(
        ChargerCommand.objects.filter(station__charger_id=charger_id)
        .order_by("id")
        .values_list("action", "payload", "status")
    )


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_a_card_on_the_reader_starts_and_stops_a_session_on_the_local_charger(
    asgi_server, settings, monkeypatch, tmp_path, version
):
    charger_id = f"RFID-LOCAL-{version}"
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.NODE_DEV_ROOT = str(tmp_path)
    settings.RFID_READER = "serial"
    settings.RFID_SCANNER_STATION = charger_id
    settings.RFID_SCANNER_CONNECTOR = 1
    settings.RFID_SCANNER_COMMAND_WAIT = 20
    monkeypatch.setattr(supervisor, "RESTART_MIN_S", 0.05)
    await db(IdTag.objects.create, id_tag=CARD, label="driver")
    await db(set_switch, features.RFID_SCANNER, "on")
    pty = Pty()
    settings.RFID_SERIAL_PORT = pty.name
    clock = Clock()
    stop = threading.Event()
    scanner = threading.Thread(
        target=supervisor.supervise,
        args=(RfidScanner(debouncer=Debouncer(1.5, clock=clock)), stop),
        daemon=True,
    )
    try:
        async with running(asgi_server, charger_id, version, mode="idle") as charger:
            await until(lambda: charger.accepted, what="the charger booted")
            await eventually(
                lambda: StatusEvent.objects.filter(
                    station__charger_id=charger_id, connector_id=1
                ).exists(),
                what="its connector reported",
            )
            scanner.start()
            # pyserial drops what came before it opened the port: wait for it.
            await until(lambda: opened_by_another(pty), what="the reader open")

            # An unknown card: refused, nothing sent to the charger.
            await present(pty, clock, UNKNOWN)
            refused = await eventually(nth_scan(1), what="the unknown card's scan")
            assert (refused.uid, refused.result, refused.action) == (UNKNOWN, "Invalid", "none")
            assert refused.detail == "card refused: Invalid"
            assert await db(commands, charger_id) == []

            # The driver's card: a remote start with its id tag, and a transaction.
            await present(pty, clock, CARD)
            tx = await eventually(
                lambda: Transaction.objects.filter(station__charger_id=charger_id).first(),
                what="a transaction",
            )
            started = await eventually(
                lambda: (
                    CardScan.objects.filter(pk=nth_scan(2)().pk, detail__endswith="accepted")
                    .select_related("station", "command")
                    .first()
                ),
                what="the start scan's outcome",
            )
            assert (started.uid, started.result, started.action) == (CARD, "Accepted", "started")
            assert started.station.charger_id == charger_id
            assert started.command.status == CommandStatus.ACCEPTED
            assert tx.id_tag == CARD

            # The same card again: the session stops.
            await present(pty, clock, CARD)
            tx = await eventually(
                lambda: Transaction.objects.filter(pk=tx.pk, stopped_at__isnull=False).first(),
                what="the transaction stopped",
            )
            stopped = await eventually(
                lambda: (
                    CardScan.objects.filter(pk=nth_scan(3)().pk, detail__endswith="accepted")
                    .select_related("command")
                    .first()
                ),
                what="the stop scan's outcome",
            )
            assert (stopped.result, stopped.action) == ("Accepted", "stopped")
            assert tx.stop_reason == "Remote"
            assert charger.stats.errors == 0, charger.stats.last_error
    finally:
        stop.set()
        if scanner.is_alive():
            await asyncio.to_thread(scanner.join, 10)
        pty.close()

    sent = await db(commands, charger_id)
    if version == "1.6":
        assert sent == [
            ("RemoteStartTransaction", {"idTag": CARD, "connectorId": 1}, "accepted"),
            ("RemoteStopTransaction", {"transactionId": int(tx.transaction_id)}, "accepted"),
        ]
    else:
        start, stop_command = sent
        assert start[0] == "RequestStartTransaction"
        assert start[1]["idToken"] == {"idToken": CARD, "type": "ISO14443"}
        assert start[1]["evseId"] == 1
        assert start[2] == "accepted"
        assert stop_command == (
            "RequestStopTransaction",
            {"transactionId": tx.transaction_id},
            "accepted",
        )
    assert await db(CardScan.objects.count) == 3
