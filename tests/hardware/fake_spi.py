"""The lowest layer of an MFRC522 reader, faked: `spidev` and `RPi.GPIO` modules and a chip.

The real `mfrc522` library runs on top: its register reads and writes are SPI transfers
(`spidev.SpiDev().xfer2([address byte, value])`), which reach `FakeMfrc522`, a register file
with a FIFO that answers the card commands the library sends through Transceive: REQA/WUPA
with the card's ATQA, anticollision (cascade level 1) with its 4 UID bytes and their BCC.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# Registers and commands of the MFRC522 data sheet (as the library names them).
COMMAND_REG = 0x01
COMM_IRQ_REG = 0x04
ERROR_REG = 0x06
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
VERSION_REG = 0x37

TRANSCEIVE = 0x0C
SOFT_RESET = 0x0F
START_SEND = 0x80
RX_IRQ, IDLE_IRQ, TIMER_IRQ = 0x20, 0x10, 0x01

REQA, WUPA = 0x26, 0x52
ANTICOLLISION_CL1 = [0x93, 0x20]
ATQA_MIFARE_CLASSIC = [0x04, 0x00]


class FakeMfrc522:
    """An MFRC522 chip on the SPI bus, and the card (if any) in its field."""

    def __init__(self, version: int = 0x92) -> None:
        self.version = version
        self.card: bytes | None = None
        self.unplugged = False  # the chip is off the bus: every register reads 0x00
        self.transfers = 0
        self._reset()

    def _reset(self) -> None:
        self.regs = [0] * 64
        self.regs[VERSION_REG] = self.version
        self.fifo: list[int] = []

    def xfer2(self, data: list[int]) -> list[int]:
        self.transfers += 1
        address, value = data[0], data[1]
        register = (address >> 1) & 0x3F
        if self.unplugged:
            return [0, 0]
        if address & 0x80:
            return [0, self._read(register)]
        self._write(register, value)
        return [0, 0]

    def _read(self, register: int) -> int:
        if register == FIFO_DATA_REG:
            return self.fifo.pop(0) if self.fifo else 0
        if register == FIFO_LEVEL_REG:
            return len(self.fifo)
        return self.regs[register]

    def _write(self, register: int, value: int) -> None:
        if register == COMM_IRQ_REG:
            # Bit 7 (Set1) says whether the marked bits are set or cleared.
            if value & 0x80:
                self.regs[register] |= value & 0x7F
            else:
                self.regs[register] &= ~value & 0x7F
        elif register == FIFO_LEVEL_REG:
            if value & 0x80:  # FlushBuffer
                self.fifo.clear()
        elif register == FIFO_DATA_REG:
            self.fifo.append(value)
        elif register == COMMAND_REG:
            if value == SOFT_RESET:
                self._reset()
            else:
                self.regs[register] = value
        elif register == BIT_FRAMING_REG:
            self.regs[register] = value & 0x7F
            if value & START_SEND and self.regs[COMMAND_REG] == TRANSCEIVE:
                self._transceive()
        elif register != VERSION_REG:
            self.regs[register] = value

    def _transceive(self) -> None:
        sent, self.fifo = self.fifo, []
        answer = None
        if self.card is not None:
            if sent in ([REQA], [WUPA]):
                answer = ATQA_MIFARE_CLASSIC
            elif sent == ANTICOLLISION_CL1:
                uid = list(self.card[:4])
                bcc = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
                answer = [*uid, bcc]
        if answer is None:
            self.regs[COMM_IRQ_REG] |= TIMER_IRQ  # no card answered before the timer ran out
            return
        self.fifo = list(answer)
        self.regs[CONTROL_REG] = 0  # whole bytes received
        self.regs[ERROR_REG] = 0
        self.regs[COMM_IRQ_REG] |= RX_IRQ | IDLE_IRQ


class Bus:
    """The SPI devices present: (bus, device) -> chip."""

    def __init__(self) -> None:
        self.chips: dict[tuple[int, int], FakeMfrc522] = {}
        self.opened: list[tuple[int, int]] = []


def _spidev_module(bus: Bus) -> types.ModuleType:
    module = types.ModuleType("spidev")

    class SpiDev:
        def __init__(self) -> None:
            self.chip: FakeMfrc522 | None = None
            self.max_speed_hz = 0

        def open(self, number: int, device: int) -> None:
            chip = bus.chips.get((number, device))
            if chip is None:  # as spidev: the device file is not there
                raise FileNotFoundError(2, "No such file or directory")
            bus.opened.append((number, device))
            self.chip = chip

        def xfer2(self, data: list[int]) -> list[int]:
            if self.chip is None:
                raise OSError(9, "Bad file descriptor")
            return self.chip.xfer2(list(data))

        def close(self) -> None:
            self.chip = None

    module.SpiDev = SpiDev
    return module


def _gpio_module() -> types.ModuleType:
    module = types.ModuleType("RPi.GPIO")
    state: dict[str, object] = {"mode": None}
    module.BOARD, module.BCM, module.OUT, module.IN = 10, 11, 0, 1
    module.getmode = lambda: state["mode"]
    module.setmode = lambda mode: state.__setitem__("mode", mode)
    module.setup = lambda pin, direction: None
    module.output = lambda pin, value: None
    module.cleanup = lambda: state.__setitem__("mode", None)
    return module


@contextmanager
def fake_spi(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    """Put fake `spidev` and `RPi.GPIO` modules in place; the real `mfrc522` imports them."""
    bus = Bus()
    rpi = types.ModuleType("RPi")
    gpio = _gpio_module()
    rpi.GPIO = gpio
    monkeypatch.setitem(sys.modules, "spidev", _spidev_module(bus))
    monkeypatch.setitem(sys.modules, "RPi", rpi)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", gpio)
    # Imported afresh so that it binds the fakes (and dropped again afterwards).
    for name in ("mfrc522", "mfrc522.MFRC522", "mfrc522.SimpleMFRC522"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield bus
    for name in ("mfrc522", "mfrc522.MFRC522", "mfrc522.SimpleMFRC522"):
        sys.modules.pop(name, None)
