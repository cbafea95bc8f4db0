"""What a card scan does, and the scanner service under its supervisor (a pty as the reader)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.chargers.models import Connector
from apps.commands.models import ChargerCommand, CommandStatus
from apps.hardware import services as supervisor
from apps.hardware.models import CardScan, ServiceStatus
from apps.hardware.rfid_readers import Debouncer, ReaderError
from apps.hardware.rfid_scanner import RfidScanner, card_scan_record, reader_open
from apps.nodes import features
from apps.nodes.services import set_switch
from apps.rfid.models import AuthorizationStatus, IdTag
from apps.transactions.models import Transaction
from tests.hardware.clock import Clock
from tests.hardware.fake_spi import FakeMfrc522, fake_spi
from tests.hardware.pty_reader import Pty, rdm6300_frame
from tests.personas import T0

CARD = "0F00A1B2C3"
CARD_FRAME = rdm6300_frame(bytes.fromhex(CARD))


@pytest.fixture(autouse=True)
def node_without_hardware(settings, tmp_path):
    """This node's devices are a fake, empty /dev tree unless a test configures a reader."""
    (tmp_path / "dev").mkdir()
    settings.NODE_DEV_ROOT = str(tmp_path)
    settings.RFID_READER = "auto"
    settings.RFID_SERIAL_PORT = ""
    settings.RFID_SCANNER_STATION = ""
    settings.RFID_SCANNER_CONNECTOR = 1
    settings.RFID_SCANNER_COMMAND_WAIT = 0
    features.invalidate()
    yield
    features.invalidate()


def wait_for(check: Callable[[], Any], within: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.02)


# --- A scan --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_card_is_invalid_and_starts_nothing(
    watching, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scan = card_scan_record(uid="deadbeef")
    assert (scan.uid, scan.result, scan.action) == ("DEADBEEF", "Invalid", "none")
    assert scan.detail == "no local charger connected"
    assert not ChargerCommand.objects.exists()
    _group, message = sent.wait()[0]
    event = json.loads(message["text"])
    assert event["kind"] == "card"
    assert event["data"]["uid"] == "DEADBEEF"
    assert event["data"]["result"] == "Invalid"
    assert event["data"]["scan"] == scan.pk


@pytest.mark.django_db
def test_a_blocked_card_is_refused_on_the_local_charger(settings, make_station):
    make_station("CP-LOCAL", is_connected=True)
    IdTag.objects.create(id_tag="B10CED", status=AuthorizationStatus.BLOCKED)
    scan = card_scan_record(uid="B10CED")
    assert (scan.result, scan.action, scan.station.charger_id) == ("Blocked", "none", "CP-LOCAL")
    assert scan.detail == "card refused: Blocked"
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_an_accepted_card_for_a_charger_that_is_offline_records_the_failure(settings, make_station):
    make_station("CP-CONFIGURED", is_connected=False, ocpp_version="1.6")
    settings.RFID_SCANNER_STATION = "CP-CONFIGURED"
    IdTag.objects.create(id_tag="AC1D")
    scan = card_scan_record(uid="ac1d")
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == (
        "RemoteStartTransaction",
        {"idTag": "AC1D", "connectorId": 1},
    )
    assert command.status == CommandStatus.OFFLINE
    assert command.source == "rfid"
    scan.refresh_from_db()
    assert (scan.result, scan.action, scan.command_id) == ("Accepted", "failed", command.pk)
    assert "offline" in scan.detail


def running_session(station, id_tag: str, connector_id: int = 1) -> Transaction:
    connector = Connector.objects.create(station=station, connector_id=connector_id)
    return Transaction.objects.create(
        station=station, connector=connector, transaction_id="77", id_tag=id_tag, started_at=T0
    )


@pytest.mark.django_db
def test_the_card_of_a_running_session_stops_it_even_when_blocked_since(settings, make_station):
    station = make_station("CP-OFF", is_connected=False, ocpp_version="1.6")
    settings.RFID_SCANNER_STATION = "CP-OFF"
    IdTag.objects.create(id_tag="B10CED", status=AuthorizationStatus.BLOCKED)
    running_session(station, "B10CED")
    scan = card_scan_record(uid="B10CED")
    command = ChargerCommand.objects.get()
    assert (command.action, command.payload) == ("RemoteStopTransaction", {"transactionId": 77})
    assert (scan.result, scan.action) == ("Blocked", "failed")  # the charger is offline
    assert scan.command == command


@pytest.mark.django_db
def test_a_busy_connector_starts_nothing(settings, make_station):
    station = make_station("CP-BUSY", is_connected=True)
    IdTag.objects.create(id_tag="AC1D")
    running_session(station, "SOMEONE-ELSE")
    scan = card_scan_record(uid="AC1D")
    assert (scan.result, scan.action) == ("Accepted", "none")
    assert scan.detail == "connector 1 is busy"
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_a_card_charging_elsewhere_is_a_concurrent_transaction(settings, make_station):
    elsewhere = make_station("CP-ELSEWHERE")
    make_station("CP-HERE", is_connected=True)
    IdTag.objects.create(id_tag="AC1D")
    running_session(elsewhere, "AC1D")
    scan = card_scan_record(uid="AC1D")
    assert (scan.result, scan.action) == ("ConcurrentTx", "none")
    assert scan.station.charger_id == "CP-HERE"
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_with_several_chargers_connected_it_asks_which_one(make_station):
    make_station("CP-A", is_connected=True)
    make_station("CP-B", is_connected=True)
    IdTag.objects.create(id_tag="AC1D")
    scan = card_scan_record(uid="AC1D")
    assert (scan.result, scan.action, scan.station) == ("Accepted", "none", None)
    assert "RFID_SCANNER_STATION" in scan.detail
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_a_station_named_in_the_settings_that_does_not_exist_is_said(settings):
    settings.RFID_SCANNER_STATION = "CP-NOWHERE"
    scan = card_scan_record(uid="AC1D")
    assert scan.detail == "RFID_SCANNER_STATION CP-NOWHERE is not a known station"


@pytest.mark.django_db
def test_what_is_not_a_card_number_is_refused_clearly():
    with pytest.raises(ValueError, match="not a card number"):
        card_scan_record(uid="AC-1D")
    assert not CardScan.objects.exists()


# --- The reader the settings name --------------------------------------------------------


def test_a_node_without_hardware_has_no_reader_to_open(settings):
    with pytest.raises(ReaderError, match="no serial port"):
        reader_open()
    assert features.detect_rfid().present is False


def test_an_unknown_reader_kind_is_a_clear_error(settings):
    settings.RFID_READER = "magic"
    with pytest.raises(ReaderError, match="auto, serial or mfrc522"):
        reader_open()


def test_auto_opens_the_configured_serial_port(settings):
    pty = Pty()
    try:
        settings.RFID_SERIAL_PORT = pty.name
        reader = reader_open()
        pty.write(b"1234\r\n")
        assert wait_for(reader.read_uid, what="a card") == "1234"
        reader.close()
    finally:
        pty.close()


# --- The service under its supervisor ------------------------------------------------------


@pytest.fixture
def fast_restarts(monkeypatch):
    monkeypatch.setattr(supervisor, "RESTART_MIN_S", 0.05)
    monkeypatch.setattr(supervisor, "RESTART_MAX_S", 0.2)


@pytest.fixture
def scanner(fast_restarts) -> Iterator[tuple[Clock, Callable[[], None]]]:
    """Run the scanner under its supervisor in a thread; yield its clock and a starter."""
    clock = Clock()
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start() -> None:
        service = RfidScanner(debouncer=Debouncer(1.5, clock=clock))
        thread = threading.Thread(target=supervisor.supervise, args=(service, stop), daemon=True)
        thread.start()
        threads.append(thread)

    yield clock, start
    stop.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def present(pty: Pty, frame: bytes, scans: Callable[[], int], count: int) -> None:
    """Hold a card on the reader (it repeats the frame) until `count` scans are recorded.

    Repeating also covers the reader being opened after the first frames were written
    (pyserial flushes the input when it opens the port).
    """
    deadline = time.monotonic() + 20
    while scans() < count:
        assert time.monotonic() < deadline, "the card was not scanned"
        pty.write(frame)
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_service_reads_cards_and_comes_back_after_the_reader_was_unplugged(settings, scanner):
    clock, start = scanner
    first = Pty()
    second: Pty | None = None
    try:
        settings.RFID_READER = "serial"
        settings.RFID_SERIAL_PORT = first.name
        set_switch(features.RFID_SCANNER, "on")
        start()
        present(first, CARD_FRAME, CardScan.objects.count, 1)
        # Held on the reader: the repeated frames were one scan.
        assert list(CardScan.objects.values_list("uid", "result")) == [(CARD, "Invalid")]

        first.close()  # unplugged
        wait_for(
            lambda: ServiceStatus.objects.filter(name="rfid-scanner", restarts__gte=1).first(),
            what="the scanner failing",
        )
        status = ServiceStatus.objects.get(name="rfid-scanner")
        assert status.detail.startswith("ReaderError")

        second = Pty()  # plugged back (the kernel may give it another name)
        settings.RFID_SERIAL_PORT = second.name
        clock.now += 10  # and the card presented again, long after
        present(second, CARD_FRAME, CardScan.objects.count, 2)
        wait_for(
            lambda: ServiceStatus.objects.filter(name="rfid-scanner", state="running").first(),
            what="the scanner running again",
        )
        assert CardScan.objects.count() == 2
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.django_db(transaction=True)
def test_the_service_is_idle_while_its_feature_is_off(settings, scanner):
    _clock, start = scanner
    settings.RFID_READER = "serial"
    settings.RFID_SERIAL_PORT = "/dev/null-reader"
    set_switch(features.RFID_SCANNER, "off")
    start()
    status = wait_for(
        lambda: ServiceStatus.objects.filter(name="rfid-scanner").first(), what="a status"
    )
    assert status.state == ServiceStatus.State.IDLE
    assert status.restarts == 0


@pytest.mark.django_db(transaction=True)
def test_the_service_reads_an_mfrc522_through_the_real_library(settings, scanner, monkeypatch):
    clock, start = scanner
    settings.RFID_READER = "mfrc522"
    features.dev_path("/dev/spidev0.0").touch()  # what detection looks for
    set_switch(features.RFID_SCANNER, "on")
    with fake_spi(monkeypatch) as bus:
        chip = bus.chips[(0, 0)] = FakeMfrc522()
        chip.card = bytes([0xA1, 0xB2, 0xC3, 0xD4])  # held on the reader: one scan
        start()
        scan = wait_for(CardScan.objects.first, what="a scan")
        assert (scan.uid, scan.result) == ("A1B2C3D4", "Invalid")
        looks = clock.calls
        wait_for(lambda: clock.calls > looks + 3, what="the card read again, held")
        assert CardScan.objects.count() == 1
        assert features.detect_rfid().present is True
