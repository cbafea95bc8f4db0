"""The LCD screen: a 16x2 or 20x4 HD44780 character LCD on I2C (PCF8574 backpack).

`LcdService` (feature `lcd-screen`) shows this node's state in rotation, one page every
LCD_PAGE_SECONDS: the address and port chargers and operators reach, each connector's status,
each running session's power and energy, and the last scanned card's result (from the
`CardScanned` live event, heard through `apps.core.live.subscribe`).

It drives the display through `RPLCD` (its `CharLCD` for the PCF8574 expander, over an
`smbus2` bus). Text is folded to what the HD44780's ROM shows (ASCII; accents dropped) and cut
to the columns. A display that stops answering (unplugged, loose wire: the bus raises
OSError) is closed, tried again every LCD_RETRY_SECONDS, and redrawn when it answers: a
display that lost its power comes back blank and in 8-bit mode, and RPLCD's initialisation
sets it up again.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.checks import Error
from django.db import close_old_connections
from django.utils import translation
from django.utils.translation import pgettext
from RPLCD.i2c import CharLCD

from apps.chargers.models import Connector
from apps.core import live
from apps.core.events import CardScanned, LiveEvent
from apps.hardware.models import ServiceStatus
from apps.hardware.services import Context, record
from apps.nodes.features import LCD_SCREEN
from apps.nodes.services import node_addresses, this_node
from apps.nodes.sigils import resolve
from apps.transactions.selectors import live_transactions

logger = logging.getLogger(__name__)

# A rotation shows at most this many connectors and sessions (a Control node has one
# charger; a longer list would make the address page come round too rarely).
MAX_CONNECTORS = 8
MAX_SESSIONS = 4

# Characters the HD44780 A00 ROM shows differently from ASCII (0x5C is a yen sign, 0x7E an
# arrow), and a few common ones that fold to nothing useful.
_REPLACE = str.maketrans({"\\": "/", "~": "-", "°": "o", "€": "E", "ß": "ss", "\t": " "})


def lcd_text(text: str) -> str:
    """Return `text` as the display can show it: printable ASCII, accents dropped.

    Control characters (a newline would move RPLCD's cursor) are dropped; any other
    character without an ASCII form becomes "?".
    """
    folded = unicodedata.normalize("NFKD", str(text).translate(_REPLACE))
    out = []
    for char in folded:
        if unicodedata.combining(char):
            continue
        if " " <= char <= "}":
            out.append(char)
        elif unicodedata.category(char)[0] == "C":
            continue
        else:
            out.append("?")
    return "".join(out)


def fit(text: str, cols: int) -> str:
    """Return `text` (already folded) cut or padded to exactly `cols` characters."""
    return text[:cols].ljust(cols)


def _label(name: str, suffix: str, cols: int) -> str:
    # The suffix (a connector number) stays visible: the name gives way.
    name = lcd_text(name)
    suffix = lcd_text(suffix)
    return name[: max(0, cols - len(suffix))] + suffix


@dataclass(frozen=True, slots=True)
class Page:
    """One screen of text: the first lines fit a 2-row display, later ones a 4-row one."""

    lines: tuple[str, ...]


def _address(addresses: list[str]) -> str:
    # An IPv4 address fits a line; chargers are usually given that one.
    for address in addresses:
        if "." in address and not address.startswith("127."):
            return address
    return addresses[0] if addresses else ""


def _kw(power_w: float | None) -> str:
    return "--kW" if power_w is None else f"{power_w / 1000:.1f}kW"


def _kwh(energy_wh: float | None) -> str:
    return "--kWh" if energy_wh is None else f"{energy_wh / 1000:.2f}kWh"


def lcd_pages(
    *, cols: int, last_card: CardScanned | None, addresses: list[str] | None = None
) -> list[Page]:
    """Return the pages of the rotation, in the node's language (reads the database)."""
    node = this_node()
    pages: list[Page] = []
    address = _address(addresses if addresses is not None else node_addresses())
    address = address or _address(list(node.addresses)) or pgettext("lcd", "no address")
    pages.append(
        Page((address, f":{node.port} {node.get_role_display()}", resolve(node.name), node.version))
    )
    connectors = (
        Connector.objects.filter(connector_id__gt=0)
        .select_related("station")
        .order_by("station__charger_id", "connector_id")[:MAX_CONNECTORS]
    )
    for connector in connectors:
        station = connector.station
        status = connector.status or pgettext("lcd", "unknown")
        if not station.is_connected:
            status = pgettext("lcd", "offline")
        lines = [_label(station.charger_id, f" #{connector.connector_id}", cols), status]
        if connector.error_code and connector.error_code != "NoError":
            lines.append(connector.error_code)
        pages.append(Page(tuple(lines)))
    for session in live_transactions()[:MAX_SESSIONS]:
        tx = session.transaction
        number = tx.connector.connector_id if tx.connector else 0
        pages.append(
            Page(
                (
                    _label(tx.station.charger_id, f" #{number}", cols),
                    f"{_kw(session.power_w)} {_kwh(session.energy_wh)}",
                    pgettext("lcd", "session %(id)s") % {"id": tx.transaction_id},
                    tx.id_tag,
                )
            )
        )
    if last_card is not None:
        lines = [pgettext("lcd", "Card %(uid)s") % {"uid": last_card.uid}, last_card.result]
        if last_card.station:
            lines.append(f"{last_card.action} {last_card.station}")
        if last_card.detail:
            lines.append(last_card.detail)
        pages.append(Page(tuple(lines)))
    return pages


class Screen:
    """The display, through RPLCD: opened at once (raises OSError when it does not answer)."""

    def __init__(self, *, bus: int, address: int, cols: int, rows: int) -> None:
        self.cols = cols
        self.rows = rows
        self.lcd = CharLCD(
            "PCF8574",
            address,
            port=bus,
            cols=cols,
            rows=rows,
            charmap="A00",  # the common HD44780 ROM (the Japanese one) on PCF8574 modules
            auto_linebreaks=False,  # each line is written in place, padded to the width
        )

    def show(self, page: Page) -> None:
        """Write the page's lines, each cut or padded to the width (RPLCD skips unchanged)."""
        for row in range(self.rows):
            text = page.lines[row] if row < len(page.lines) else ""
            self.lcd.cursor_pos = (row, 0)
            self.lcd.write_string(fit(lcd_text(text), self.cols))

    def close(self, *, clear: bool = False) -> None:
        """Let the bus go (RPLCD's own close leaves the SMBus open); never raises."""
        try:
            self.lcd.close(clear=clear)
        except OSError:
            pass
        try:
            self.lcd.bus.close()
        except (OSError, AttributeError):
            pass


def check_lcd_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report LCD settings the display cannot take (`manage.py check`)."""
    errors = []
    if settings.LCD_ROWS not in (1, 2, 4) or not 8 <= settings.LCD_COLS <= 40:
        errors.append(
            Error(
                f"LCD_COLS x LCD_ROWS is {settings.LCD_COLS}x{settings.LCD_ROWS}.",
                hint="A character LCD has 1, 2 or 4 rows of 8 to 40 columns (16x2, 20x4).",
                id="hardware.E101",
            )
        )
    if not 0x03 <= settings.LCD_I2C_ADDRESS <= 0x77 or settings.LCD_I2C_BUS < 0:
        errors.append(
            Error(
                f"LCD_I2C_ADDRESS {settings.LCD_I2C_ADDRESS} on bus {settings.LCD_I2C_BUS} "
                "is not an I2C device address.",
                hint="Give the address in decimal, 3 to 119 (0x27 is 39, 0x3F is 63), "
                "as `i2cdetect -y 1` shows it.",
                id="hardware.E102",
            )
        )
    if not settings.LCD_PAGE_SECONDS > 0 or not settings.LCD_RETRY_SECONDS > 0:
        errors.append(
            Error(
                "LCD_PAGE_SECONDS and LCD_RETRY_SECONDS must be more than 0.",
                id="hardware.E103",
            )
        )
    return errors


class LcdService:
    """The managed LCD service: pages in rotation, survives the display coming and going."""

    name = "lcd"
    feature = LCD_SCREEN

    def __init__(
        self,
        *,
        bus: int | None = None,
        address: int | None = None,
        cols: int | None = None,
        rows: int | None = None,
        page_seconds: float | None = None,
        retry_seconds: float | None = None,
        addresses: Callable[[], list[str]] = node_addresses,
    ) -> None:
        self.bus = settings.LCD_I2C_BUS if bus is None else bus
        self.address = settings.LCD_I2C_ADDRESS if address is None else address
        self.cols = settings.LCD_COLS if cols is None else cols
        self.rows = settings.LCD_ROWS if rows is None else rows
        self.page_seconds = settings.LCD_PAGE_SECONDS if page_seconds is None else page_seconds
        self.retry_seconds = settings.LCD_RETRY_SECONDS if retry_seconds is None else retry_seconds
        self.addresses = addresses
        self._card_lock = threading.Lock()
        self.last_card: CardScanned | None = None

    def heard(self, event: LiveEvent) -> None:
        """Keep the last scanned card (a live-event listener: quick, never raises)."""
        if isinstance(event, CardScanned):
            with self._card_lock:
                self.last_card = event

    def pages(self) -> list[Page]:
        with self._card_lock:
            card = self.last_card
        with translation.override(settings.LANGUAGE_CODE):
            return lcd_pages(cols=self.cols, last_card=card, addresses=self.addresses())

    def open(self) -> Screen:
        return Screen(bus=self.bus, address=self.address, cols=self.cols, rows=self.rows)

    def run(self, ctx: Context) -> None:
        live.subscribe(self.heard)
        screen: Screen | None = None
        missing = ""
        index = 0
        try:
            while not ctx.stopping():
                close_old_connections()  # this thread's connection may have gone stale
                pages = self.pages()
                try:
                    if screen is None:
                        screen = self.open()
                    screen.show(pages[index % len(pages)])
                except OSError as exc:
                    if screen is not None:
                        screen.close()
                        screen = None
                    detail = (
                        f"display not answering on /dev/i2c-{self.bus} 0x{self.address:02x}: {exc}"
                    )
                    if not missing:
                        logger.warning("LCD: %s; trying again", detail)
                        record(self.name, self.feature, ServiceStatus.State.FAILED, detail)
                    missing = detail
                    if ctx.wait(self.retry_seconds):
                        return
                    continue
                if missing:
                    logger.info("LCD: the display answers again")
                    record(self.name, self.feature, ServiceStatus.State.RUNNING)
                    missing = ""
                index += 1
                if ctx.wait(self.page_seconds):
                    return
        finally:
            live.unsubscribe(self.heard)
            if screen is not None:
                # A screen left as it was would show a state that is no longer watched.
                screen.close(clear=True)
