"""Card readers behind one small contract: `read_uid() -> str | None`, `flush()`, `close()`.

A reader returns the card number of a card in front of it, or None when none was read in a
short poll; it raises `ReaderError` when the device is gone or broken (the scanner service
then ends, and its supervisor opens the reader again later). `flush()` drops what the reader
sent while the scanner was busy with a scan.

Card numbers are text as an OCPP idTag holds it (`IdTag.id_tag`, CiString up to 36):

- MFRC522 (13.56 MHz, ISO 14443A): the UID bytes as uppercase hex, "A1B2C3D4".
- RDM6300-style framed serial readers (125 kHz EM4100): the 10 hex digits of the tag
  (version byte + 4 data bytes) in uppercase, "0F00A1B2C3".
- Line-based serial readers (a card number per line, CR and/or LF): the line as the reader
  prints it, decimal or hex, letters in uppercase, "0010597059" or "04A1B2C3D4E5F6".

So the text an operator registers is exactly what the scan shows in the admin.

`Debouncer` turns repeated reads of a card held on the reader into one scan.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# IdTag.id_tag is 36 characters at most; a line longer than this is noise, not a card.
UID_MAX_LENGTH = 36
UID_PATTERN = re.compile(r"[0-9A-Z]{1,36}")

STX = 0x02
ETX = 0x03
# RDM6300 frame body: 10 hex digits of the tag, 2 of the checksum (XOR of the 5 tag bytes).
FRAME_BODY = 12


class ReaderError(Exception):
    """The reader cannot be opened or read (unplugged, no permission, wrong device)."""


class CardReader(Protocol):
    # True when read_uid() itself waits a little for data (a serial port's timeout); the
    # scanner pauses between polls of a reader that answers at once (MFRC522).
    blocking: bool

    def read_uid(self) -> str | None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def uid_normalise(text: str) -> str:
    """Return `text` as a card number (stripped, uppercase); raise ValueError if it is not one."""
    uid = text.strip().upper()
    if not UID_PATTERN.fullmatch(uid):
        raise ValueError(f"not a card number (1 to {UID_MAX_LENGTH} letters or digits): {text!r}")
    return uid


# --- Serial readers ----------------------------------------------------------------------


@dataclass
class ParserStats:
    cards: int = 0
    bad_frames: int = 0
    noise: int = 0


class SerialCardParser:
    """Turn the bytes of a serial reader into card numbers, whatever arrives.

    Two formats share the stream: RDM6300 frames (STX, 10 hex digits, 2 hex digits of
    checksum, ETX; checksum verified, bad frames dropped and counted) and lines of text
    ending in CR and/or LF. Anything else (binary noise, over-long lines) is dropped and
    counted; nothing raises.
    """

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._frame: bytearray | None = None
        self._line = bytearray()
        self._line_spoilt = False

    def reset(self) -> None:
        """Forget a line or frame begun (its bytes were dropped); keep the counts."""
        self._frame = None
        self._line.clear()
        self._line_spoilt = False

    def feed(self, data: bytes) -> list[str]:
        """Return the card numbers completed by `data`, in order."""
        cards: list[str] = []
        for byte in data:
            if self._frame is not None:
                self._frame_byte(byte, cards)
            elif byte == STX:
                self._drop_line()
                self._frame = bytearray()
            elif byte in (0x0D, 0x0A):
                self._end_line(cards)
            elif 0x20 <= byte < 0x7F:
                if len(self._line) >= UID_MAX_LENGTH + 8:
                    self._line_spoilt = True
                else:
                    self._line.append(byte)
            else:
                self._line_spoilt = True
        self.stats.cards += len(cards)
        return cards

    def _frame_byte(self, byte: int, cards: list[str]) -> None:
        assert self._frame is not None
        if byte == ETX:
            uid = _rdm6300_uid(bytes(self._frame))
            self._frame = None
            if uid is None:
                self.stats.bad_frames += 1
            else:
                cards.append(uid)
        elif byte == STX:  # a frame cut short: start again
            self.stats.bad_frames += 1
            self._frame = bytearray()
        elif len(self._frame) >= FRAME_BODY:
            self.stats.bad_frames += 1
            self._frame = None
        else:
            self._frame.append(byte)

    def _drop_line(self) -> None:
        if self._line.strip() or self._line_spoilt:
            self.stats.noise += 1
        self._line.clear()
        self._line_spoilt = False

    def _end_line(self, cards: list[str]) -> None:
        text = self._line.decode("ascii", "replace").strip()
        spoilt = self._line_spoilt
        self._line.clear()
        self._line_spoilt = False
        if not text and not spoilt:
            return  # the LF after a CR, or an empty line
        try:
            uid = uid_normalise(text)
        except ValueError:
            uid = None
        if spoilt or uid is None:
            self.stats.noise += 1
            logger.debug("card reader: line ignored: %r", text[:60])
            return
        cards.append(uid)


def _rdm6300_uid(body: bytes) -> str | None:
    """Return the tag of an RDM6300 frame body (between STX and ETX), None if it is bad."""
    if len(body) != FRAME_BODY:
        return None
    try:
        text = body.decode("ascii")
        values = bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        return None
    checksum = 0
    for value in values[:5]:
        checksum ^= value
    if checksum != values[5]:
        return None
    return text[:10].upper()


class SerialReader:
    """A serial (USB or UART) card reader read through pyserial."""

    blocking = True

    def __init__(self, port: str, baud: int = 9600, timeout: float = 0.2) -> None:
        import serial  # pyserial: a requirement, imported here to keep module import light

        self._serial_error = serial.SerialException
        try:
            self._port = serial.Serial(port, baud, timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ReaderError(f"cannot open serial port {port}: {exc}") from exc
        self.port = port
        self.parser = SerialCardParser()
        self._pending: deque[str] = deque()

    def read_uid(self) -> str | None:
        """Return the next card number read, or None after the port's timeout."""
        if self._pending:
            return self._pending.popleft()
        try:
            data = self._port.read(256)
        except (self._serial_error, OSError) as exc:
            raise ReaderError(f"serial port {self.port}: {exc}") from exc
        if data:
            self._pending.extend(self.parser.feed(data))
        return self._pending.popleft() if self._pending else None

    def flush(self) -> None:
        """Drop the bytes received and not read yet (and a line or frame begun)."""
        self._pending.clear()
        self.parser.reset()
        try:
            self._port.reset_input_buffer()
        except Exception as exc:  # SerialException, OSError, termios.error: the port is gone
            raise ReaderError(f"serial port {self.port}: {exc}") from exc

    def close(self) -> None:
        try:
            self._port.close()
        except Exception:  # closing a port whose device is gone may fail: nothing to keep
            logger.debug("serial port %s: close failed", self.port, exc_info=True)


# --- MFRC522 on SPI ----------------------------------------------------------------------

# VersionReg of an MFRC522 answers 0x91 / 0x92 (clones 0x88, 0x12, 0xB2); a bus with no chip
# reads 0x00 or 0xFF.
NO_CHIP = (0x00, 0xFF)
# Empty polls between two looks at the version register: a chip unplugged from the bus reads
# as "no card", so this is how a reader that went away is noticed.
CHECK_EVERY = 20


class Mfrc522Reader:
    """An MFRC522 on SPI, read through the `mfrc522` package (pimylifeup's MFRC522-python).

    The package imports `spidev` and `RPi.GPIO` when it is imported, so it is imported here,
    when a reader is opened, and only on a node configured for it (requirements-pi.txt).
    Only the first cascade level of the UID is read (the library's anticollision): 4 bytes,
    the whole UID of MIFARE Classic cards.
    """

    blocking = False

    def __init__(self, bus: int = 0, device: int = 0) -> None:
        try:
            from mfrc522 import MFRC522
        except Exception as exc:  # ImportError, or RPi.GPIO's RuntimeError off a Pi
            raise ReaderError(
                f"the mfrc522 package cannot be used here ({exc}); "
                "on a Raspberry Pi: pip install -r requirements-pi.txt"
            ) from exc
        try:
            self._chip: Any = MFRC522(bus=bus, device=device)
        except Exception as exc:  # OSError from spidev.open, RuntimeError from RPi.GPIO
            raise ReaderError(f"cannot open MFRC522 on /dev/spidev{bus}.{device}: {exc}") from exc
        # The library adds a handler to its logger at each opening: keep one across restarts.
        library_logger = logging.getLogger("mfrc522Logger")
        del library_logger.handlers[1:]
        self.path = f"/dev/spidev{bus}.{device}"
        self._empty_polls = 0
        self._check_chip()

    def _check_chip(self) -> None:
        version = self._register(self._chip.VersionReg)
        if version in NO_CHIP:
            self.close()
            raise ReaderError(f"no MFRC522 answers on {self.path} (version {version:#04x})")

    def _register(self, address: int) -> int:
        try:
            return int(self._chip.Read_MFRC522(address))
        except Exception as exc:
            raise ReaderError(f"MFRC522 on {self.path}: {exc}") from exc

    def read_uid(self) -> str | None:
        """Return the UID of a card in the field, or None when there is none."""
        chip = self._chip
        try:
            status, _bits = chip.MFRC522_Request(chip.PICC_REQIDL)
            if status != chip.MI_OK:
                self._empty_polls += 1
                if self._empty_polls >= CHECK_EVERY:
                    self._empty_polls = 0
                    self._check_chip()
                return None
            status, uid = chip.MFRC522_Anticoll()
        except Exception as exc:  # OSError from the SPI transfer: the device went away
            raise ReaderError(f"MFRC522 on {self.path}: {exc}") from exc
        if status != chip.MI_OK or len(uid) < 5:
            return None
        return bytes(uid[:4]).hex().upper()

    def flush(self) -> None:
        """Nothing to drop: the chip is asked afresh at each read."""

    def close(self) -> None:
        try:
            self._chip.Close_MFRC522()
        except Exception:
            logger.debug("MFRC522: close failed", exc_info=True)


# --- Debounce ----------------------------------------------------------------------------


class Debouncer:
    """Tell a new scan from a card still held on the reader.

    A card read again within `release_s` of its last read is the same scan (held on the
    reader, or read again by a reader that repeats); the same card read after `release_s`
    without a read (taken away and presented again) is a new scan, and so is another card.
    """

    def __init__(self, release_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.release_s = release_s
        self._clock = clock
        self._uid: str | None = None
        self._seen_at = 0.0

    def hold(self, uid: str) -> None:
        """Count `uid` as read now (the time spent handling its scan counts as held)."""
        if uid == self._uid:
            self._seen_at = self._clock()

    def is_new(self, uid: str) -> bool:
        now = self._clock()
        held = uid == self._uid and now - self._seen_at < self.release_s
        self._uid = uid
        self._seen_at = now
        return not held
