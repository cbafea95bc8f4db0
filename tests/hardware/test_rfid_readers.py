"""Card readers through their real libraries, the device replaced at the lowest layer.

Serial readers: real pyserial on the slave side of a pseudo-terminal pair, the test writing
the reader's bytes to the master. MFRC522: the real `mfrc522` library over a fake SPI chip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from apps.hardware.rfid_readers import (
    Debouncer,
    Mfrc522Reader,
    ReaderError,
    SerialCardParser,
    SerialReader,
    uid_normalise,
)
from tests.hardware.fake_spi import FakeMfrc522, fake_spi
from tests.hardware.pty_reader import Pty, rdm6300_frame


@pytest.fixture
def pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


@pytest.fixture
def reader(pty: Pty) -> Iterator[SerialReader]:
    opened = SerialReader(pty.name, 9600, timeout=0.05)
    yield opened
    opened.close()


def read_cards(reader: SerialReader, count: int, within: float = 5.0) -> list[str]:
    """Read until `count` cards came, for at most `within` seconds."""
    cards: list[str] = []
    deadline = time.monotonic() + within
    while len(cards) < count and time.monotonic() < deadline:
        uid = reader.read_uid()
        if uid is not None:
            cards.append(uid)
    return cards


# --- Serial: lines ---------------------------------------------------------------------------


def test_it_reads_a_decimal_card_number_per_line(pty, reader):
    pty.write(b"0010597059\r\n")
    assert read_cards(reader, 1) == ["0010597059"]


def test_it_reads_hex_lines_in_uppercase_whatever_the_line_end(pty, reader):
    pty.write(b"04a1b2c3d4e5f6\n")
    pty.write(b"deadbeef\r")
    pty.write(b"  0A0B0C0D  \r\n")
    assert read_cards(reader, 3) == ["04A1B2C3D4E5F6", "DEADBEEF", "0A0B0C0D"]


def test_a_line_cut_across_reads_is_one_card(pty, reader):
    pty.write(b"12345")
    assert reader.read_uid() is None  # half a line: nothing yet
    pty.write(b"678\r\n")
    assert read_cards(reader, 1) == ["12345678"]


# --- Serial: RDM6300 frames ------------------------------------------------------------------


def test_it_reads_an_rdm6300_frame(pty, reader):
    pty.write(rdm6300_frame(bytes([0x0F, 0x00, 0xA1, 0xB2, 0xC3])))
    assert read_cards(reader, 1) == ["0F00A1B2C3"]
    assert reader.parser.stats.bad_frames == 0


def test_it_drops_rdm6300_frames_with_a_bad_checksum_and_counts_them(pty, reader):
    good = rdm6300_frame(bytes([0x01, 0x02, 0x03, 0x04, 0x05]))
    bad = bytearray(rdm6300_frame(bytes([0x0F, 0x00, 0xA1, 0xB2, 0xC3])))
    bad[12] = ord("0") if bad[12] != ord("0") else ord("1")  # spoil the checksum
    pty.write(bytes(bad) + good)
    assert read_cards(reader, 1) == ["0102030405"]
    assert reader.parser.stats.bad_frames == 1


def test_it_drops_short_long_and_non_hex_frames(pty, reader):
    good = rdm6300_frame(bytes([0xAA, 0xBB, 0xCC, 0xDD, 0xEE]))
    pty.write(b"\x020F00A1\x03")  # short
    pty.write(b"\x020F00A1B2C3C3C3C3\x03")  # long
    pty.write(b"\x02ZZ00A1B2C3XX\x03")  # not hex
    pty.write(b"\x020F00A1\x02")  # cut short by the next frame's STX (itself short)
    pty.write(good)
    assert read_cards(reader, 1) == ["AABBCCDDEE"]
    assert reader.parser.stats.bad_frames == 5


def test_noise_never_stops_the_reader(pty, reader):
    pty.write(bytes(range(256)) + b"\xff\xfe\x00\x1b[2J" + b"X" * 500 + b"\r\n")
    pty.write(b"not a card!\r\n")
    pty.write(b"CAFE01\r\n")
    assert read_cards(reader, 1) == ["CAFE01"]
    assert reader.parser.stats.noise >= 2


def test_the_parser_survives_every_byte_sequence():
    parser = SerialCardParser()
    seed = 1
    data = bytearray()
    for _ in range(20000):  # deterministic pseudo-random bytes, STX/ETX/CR/LF among them
        seed = (seed * 1103515245 + 12345) % 2**31
        data.append((seed >> 16) % 256)
    cards = parser.feed(bytes(data))
    assert all(uid_normalise(card) == card for card in cards)
    assert parser.feed(b"\r\n1234\r\n") == ["1234"]


# --- Debounce --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_held_card_is_one_scan_and_a_card_presented_again_is_another(pty, reader):
    clock = Clock()
    debouncer = Debouncer(1.5, clock=clock)
    frame = rdm6300_frame(bytes([0x0F, 0x00, 0xA1, 0xB2, 0xC3]))
    scans = []
    for _ in range(5):  # the reader repeats the card while it is held
        pty.write(frame)
        clock.now += 0.3
        scans += [uid for uid in read_cards(reader, 1) if debouncer.is_new(uid)]
    assert scans == ["0F00A1B2C3"]
    clock.now += 1.6  # taken away for longer than the release window, then presented again
    pty.write(frame)
    scans += [uid for uid in read_cards(reader, 1) if debouncer.is_new(uid)]
    assert scans == ["0F00A1B2C3", "0F00A1B2C3"]


def test_flush_drops_what_came_while_a_scan_was_handled(pty, reader):
    pty.write(b"1111\r\n2222\r\n")
    assert read_cards(reader, 1) == ["1111"]  # "2222" is read too, and waits
    reader.flush()
    pty.write(b"5555\r\n")
    assert read_cards(reader, 1) == ["5555"]


def test_the_time_a_scan_is_handled_counts_as_held():
    clock = Clock()
    debouncer = Debouncer(1.5, clock=clock)
    assert debouncer.is_new("AAAA")
    clock.now += 10  # handling the scan took long; the card stayed on the reader
    debouncer.hold("AAAA")
    clock.now += 0.2
    assert not debouncer.is_new("AAAA")


def test_another_card_is_a_new_scan_at_once():
    clock = Clock()
    debouncer = Debouncer(1.5, clock=clock)
    assert debouncer.is_new("AAAA")
    clock.now += 0.1
    assert debouncer.is_new("BBBB")
    clock.now += 0.1
    assert debouncer.is_new("AAAA")
    assert not debouncer.is_new("AAAA")


# --- Serial: the device -----------------------------------------------------------------


def test_a_port_that_is_not_there_is_a_reader_error(tmp_path):
    with pytest.raises(ReaderError, match="cannot open serial port"):
        SerialReader(str(tmp_path / "ttyUSB9"))


def test_a_reader_unplugged_is_a_reader_error(pty, reader):
    pty.write(b"1234\r\n")
    assert read_cards(reader, 1) == ["1234"]
    pty.close()  # the device went away
    with pytest.raises(ReaderError):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            reader.read_uid()


def test_uid_normalise_refuses_what_is_not_a_card_number():
    assert uid_normalise(" ab12 ") == "AB12"
    for text in ("", "   ", "AB-12", "x" * 37, "é1"):
        with pytest.raises(ValueError):
            uid_normalise(text)


# --- MFRC522 ---------------------------------------------------------------------------------


def test_the_mfrc522_library_reads_a_card(monkeypatch):
    with fake_spi(monkeypatch) as bus:
        chip = bus.chips[(0, 0)] = FakeMfrc522()
        reader = Mfrc522Reader(0, 0)
        assert reader.read_uid() is None
        chip.card = bytes([0xA1, 0xB2, 0xC3, 0xD4])
        assert reader.read_uid() == "A1B2C3D4"
        chip.card = None
        assert reader.read_uid() is None
        reader.close()
    assert bus.opened == [(0, 0)]
    assert chip.transfers > 0


def test_reopening_the_mfrc522_does_not_pile_up_log_handlers(monkeypatch):
    import logging

    with fake_spi(monkeypatch) as bus:
        bus.chips[(0, 0)] = FakeMfrc522()
        for _ in range(3):  # the supervisor reopens the reader after each error
            Mfrc522Reader(0, 0).close()
    assert len(logging.getLogger("mfrc522Logger").handlers) == 1


def test_the_mfrc522_on_another_chip_select(monkeypatch):
    with fake_spi(monkeypatch) as bus:
        chip = bus.chips[(0, 1)] = FakeMfrc522(version=0x91)
        chip.card = bytes([0x04, 0x11, 0x22, 0x33])
        reader = Mfrc522Reader(0, 1)
        assert reader.read_uid() == "04112233"
        reader.close()


def test_no_spi_device_is_a_reader_error(monkeypatch):
    with fake_spi(monkeypatch):
        with pytest.raises(ReaderError, match=r"cannot open MFRC522 on /dev/spidev0\.0"):
            Mfrc522Reader(0, 0)


def test_no_chip_on_the_bus_is_a_reader_error(monkeypatch):
    with fake_spi(monkeypatch) as bus:
        bus.chips[(0, 0)] = FakeMfrc522(version=0x00)
        with pytest.raises(ReaderError, match="no MFRC522 answers"):
            Mfrc522Reader(0, 0)


def test_a_chip_gone_from_the_bus_is_noticed(monkeypatch):
    with fake_spi(monkeypatch) as bus:
        chip = bus.chips[(0, 0)] = FakeMfrc522()
        reader = Mfrc522Reader(0, 0)
        chip.unplugged = True
        with pytest.raises(ReaderError, match="no MFRC522 answers"):
            for _ in range(100):
                assert reader.read_uid() is None


def test_without_the_pi_packages_the_reader_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "spidev", None)  # import spidev fails
    for name in ("mfrc522", "mfrc522.MFRC522", "mfrc522.SimpleMFRC522"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ReaderError, match=r"requirements-pi\.txt"):
        Mfrc522Reader(0, 0)
    for name in ("mfrc522", "mfrc522.MFRC522", "mfrc522.SimpleMFRC522"):
        sys.modules.pop(name, None)


def test_importing_the_readers_does_not_import_the_pi_packages():
    import subprocess
    import sys

    code = (
        "import sys, apps.hardware.rfid_readers; "
        "print(sorted(m for m in ('mfrc522', 'spidev', 'RPi') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=os.getcwd()
    )
    assert out.stdout.strip() == "[]"
