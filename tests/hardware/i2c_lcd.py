"""A character LCD at the far end of a fake I2C bus: what RPLCD's bytes would show.

`FakeSMBus` stands in for the `SMBus` class RPLCD's i2c module uses (smbus2's, on a real
node): only the device at the lowest layer is replaced. Every byte written goes to the
`LcdModule` at its address: a PCF8574 expander (bit 0 RS, 1 RW, 2 E, 3 backlight, 4-7 D4-D7)
wired to an HD44780 controller, decoded here as the controller would: a nibble is latched on
the falling edge of E; after power-on the controller is in 8-bit mode (one nibble is one
instruction) until a function set selects 4 bits, and then two nibbles make a byte. Its DDRAM
gives the screen's text.

`unplug()` makes every write fail as a missing device does (OSError 121, Remote I/O error);
`plug()` brings back a controller that lost its power: blank, in 8-bit mode.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable

RS, RW, E, BACKLIGHT = 0x01, 0x02, 0x04, 0x08


class LcdModule:
    """A PCF8574 backpack and its HD44780, as far as the bytes written to it tell."""

    def __init__(self, *, cols: int = 16, rows: int = 2) -> None:
        self.cols = cols
        self.rows = rows
        self.lock = threading.Condition()
        self.plugged = True
        self.screens: list[tuple[str, ...]] = []  # every screen state after a data write
        self.power_on()

    def power_on(self) -> None:
        with self.lock:
            self.eight_bit = True
            self.pending: tuple[int, int] | None = None
            self.previous = 0
            self.ddram = [0x20] * 0x80
            self.address = 0
            self.increment = True
            self.cgram = False
            self.display_on = False
            self.two_lines = False
            self.backlight = False
            self.rw_seen = False
            self.screens = []

    # -- the expander's port ----------------------------------------------------------------

    def write(self, byte: int) -> None:
        with self.lock:
            self.backlight = bool(byte & BACKLIGHT)
            self.rw_seen = self.rw_seen or bool(byte & RW)
            if self.previous & E and not byte & E:
                self._latch(self.previous)
            self.previous = byte

    def _latch(self, byte: int) -> None:
        rs, nibble = byte & RS, byte >> 4
        if self.eight_bit:
            # D0-D3 are not wired: an 8-bit instruction's low half reads 0.
            if not rs:
                self._instruction(nibble << 4)
            return
        if self.pending is None:
            self.pending = (rs, nibble)
            return
        first_rs, high = self.pending
        self.pending = None
        value = high << 4 | nibble
        if first_rs:
            self._data(value)
        else:
            self._instruction(value)

    def _instruction(self, value: int) -> None:
        if value & 0x80:
            self.address, self.cgram = value & 0x7F, False
        elif value & 0x40:
            self.cgram = True
        elif value & 0x20:
            self.eight_bit = bool(value & 0x10)
            self.two_lines = bool(value & 0x08)
            self.pending = None
        elif value & 0x10:
            pass  # cursor or display shift: RPLCD's page writes do not use it
        elif value & 0x08:
            self.display_on = bool(value & 0x04)
        elif value & 0x04:
            self.increment = bool(value & 0x02)
        elif value & 0x02:
            self.address = 0
        elif value & 0x01:
            self.ddram = [0x20] * 0x80
            self.address = 0
            self.increment = True

    def _data(self, value: int) -> None:
        if self.cgram:
            return
        self.ddram[self.address] = value
        self.address = (self.address + (1 if self.increment else -1)) % 0x80
        self.screens.append(self._text())
        self.lock.notify_all()

    # -- what a person sees -----------------------------------------------------------------

    def _text(self) -> tuple[str, ...]:
        offsets = [0x00, 0x40, self.cols, 0x40 + self.cols][: self.rows]
        return tuple(
            "".join(chr(b) for b in self.ddram[start : start + self.cols]) for start in offsets
        )

    def text(self) -> tuple[str, ...]:
        with self.lock:
            return self._text()

    def wait_for(self, wanted: Callable[[tuple[str, ...]], bool], timeout: float = 10) -> tuple:
        """Wait until a screen state satisfies `wanted` (seen since the last power-on)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            seen = 0
            while True:
                for screen in self.screens[seen:]:
                    if wanted(screen):
                        return screen
                seen = len(self.screens)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"never shown; last screen: {self._text()!r}")
                self.lock.wait(left)

    def unplug(self) -> None:
        with self.lock:
            self.plugged = False

    def plug(self) -> None:
        self.power_on()
        with self.lock:
            self.plugged = True


class I2CBuses:
    """The node's I2C buses: which module answers at which (bus, address)."""

    def __init__(self) -> None:
        self.devices: dict[tuple[int, int], LcdModule] = {}
        self.opened: list[int] = []
        self.closed = 0

    def attach(self, bus: int, address: int, module: LcdModule) -> LcdModule:
        self.devices[(bus, address)] = module
        return module

    def smbus_class(self) -> type:
        buses = self

        class FakeSMBus:
            """The part of smbus2.SMBus that RPLCD's PCF8574 driver uses."""

            def __init__(self, bus: int) -> None:
                self.bus = bus
                buses.opened.append(bus)

            def write_byte(self, address: int, value: int, force: bool | None = None) -> None:
                module = buses.devices.get((self.bus, address))
                if module is None or not module.plugged:
                    raise OSError(errno.EREMOTEIO, "Remote I/O error")
                module.write(value)

            def close(self) -> None:
                buses.closed += 1

        return FakeSMBus
