"""The LCD service through the real RPLCD, with a fake I2C bus object as the only stand-in.

The screen's text is what the bytes RPLCD writes would put in an HD44780's DDRAM, decoded
through the PCF8574's bit layout (tests/hardware/i2c_lcd.py).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import RPLCD.i2c
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation
from apps.core import live
from apps.core.events import CardScanned
from apps.hardware.lcd import (
    LcdService,
    Page,
    Screen,
    check_lcd_settings,
    lcd_pages,
    lcd_text,
)
from apps.hardware.models import ServiceStatus
from apps.hardware.services import supervise
from apps.nodes.features import LCD_SCREEN
from apps.nodes.services import set_switch, this_node
from apps.rfid.models import IdTag
from tests.hardware.i2c_lcd import I2CBuses, LcdModule
from tests.ocpp.charger import connect_v16
from tests.personas import add_connector

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def i2c(monkeypatch) -> I2CBuses:
    """The node's I2C buses, behind the SMBus name RPLCD's i2c module calls."""
    buses = I2CBuses()
    monkeypatch.setattr(RPLCD.i2c, "SMBus", buses.smbus_class())
    return buses


@pytest.fixture
def module(i2c) -> LcdModule:
    """A 16x2 display at the default place: bus 1, address 0x27."""
    return i2c.attach(1, 0x27, LcdModule(cols=16, rows=2))


def card(uid: str = "04A1B2C3", result: str = "Blocked", **fields) -> CardScanned:
    values = {"scan": 1, "action": "none", "station": "", "detail": "", "at": AT}
    values.update(fields)
    return CardScanned(uid=uid, result=result, **values)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


class TestText:
    def test_it_folds_accents_and_drops_control_characters(self):
        assert lcd_text("Caffè\nperché\t€5") == "Caffeperche E5"

    def test_it_avoids_what_the_rom_shows_differently(self):
        # 0x5C is a yen sign and 0x7E an arrow in the A00 ROM.
        assert lcd_text("a\\b~c") == "a/b-c"

    def test_it_shows_a_question_mark_for_what_has_no_ascii_form(self):
        assert lcd_text("Zone ☃ 東") == "Zone ? ?"


class TestScreen:
    def test_it_writes_each_line_in_place_through_rplcd(self, module, i2c):
        screen = Screen(bus=1, address=0x27, cols=16, rows=2)
        screen.show(Page(("Hello", "World, and more than fits")))

        assert module.text() == ("Hello           ", "World, and more ")
        assert module.display_on and module.backlight and not module.rw_seen
        assert i2c.opened == [1]

    def test_a_20x4_display_gets_its_four_rows(self, i2c):
        module = i2c.attach(1, 0x3F, LcdModule(cols=20, rows=4))
        screen = Screen(bus=1, address=0x3F, cols=20, rows=4)
        screen.show(Page(("one", "two", "three", "four")))

        assert [row.rstrip() for row in module.text()] == ["one", "two", "three", "four"]

    def test_a_shorter_page_blanks_the_rows_it_does_not_fill(self, module):
        screen = Screen(bus=1, address=0x27, cols=16, rows=2)
        screen.show(Page(("first page", "second row")))
        screen.show(Page(("next",)))

        assert module.text() == ("next            ", " " * 16)

    def test_a_display_that_does_not_answer_raises_oserror(self, i2c):
        with pytest.raises(OSError):  # nothing at 0x27
            Screen(bus=1, address=0x27, cols=16, rows=2)


class TestPages:
    def test_they_show_the_address_connectors_session_and_card(self, charging, settings):
        settings.LANGUAGE_CODE = "en"
        node = this_node()
        node.port = 8443
        node.save(update_fields=["port"])
        pages = lcd_pages(cols=16, last_card=card(), addresses=["127.0.1.1", "192.0.2.10"])

        lines = [page.lines[:2] for page in pages]
        assert lines[0] == ("192.0.2.10", ":8443 Terminal")
        assert ("CP-DASH-1 #1", "Charging") in lines
        assert ("CP-DASH-1 #2", "Faulted") in lines
        # 1350 Wh read, 1000 at the start; 7.4 kW last.
        assert ("CP-DASH-1 #1", "7.4kW 0.35kWh") in lines
        assert lines[-1] == ("Card 04A1B2C3", "Blocked")

    def test_the_node_name_resolves_its_sigils(self, db, settings, monkeypatch):
        monkeypatch.setenv("SITE_CODE", "MI-04")
        settings.SIGILS_ENV_ALLOW = ["SITE_CODE"]
        node = this_node()
        node.name = "Box [ENV.SITE_CODE]"
        node.save(update_fields=["name"])

        pages = lcd_pages(cols=16, last_card=None, addresses=["192.0.2.10"])

        assert pages[0].lines[2] == "Box MI-04"

    def test_a_long_station_id_gives_way_to_the_connector_number(self, db):
        station = ChargingStation.objects.create(charger_id="A-VERY-LONG-STATION-ID")
        add_connector(station, 2, "Available")

        pages = lcd_pages(cols=16, last_card=None, addresses=["192.0.2.10"])

        assert pages[1].lines[:2] == ("A-VERY-LONG-S #2", "offline")

    def test_they_speak_the_node_language(self, db, settings):
        settings.LANGUAGE_CODE = "it"
        station = ChargingStation.objects.create(charger_id="CP-IT")
        add_connector(station, 1, "Available")
        service = LcdService(addresses=lambda: [])
        service.heard(card(result="Blocked"))

        pages = service.pages()

        assert pages[0].lines[0] == "nessun indirizzo"
        assert pages[1].lines[1] == "non connessa"
        assert pages[2].lines[0] == "Tessera 04A1B2C3"


@pytest.mark.django_db(transaction=True)
class TestService:
    """The service as its supervisor runs it, in its own thread, the feature switched on."""

    @pytest.fixture
    def running(self, module, i2c, settings):
        settings.LANGUAGE_CODE = "en"
        set_switch(LCD_SCREEN, "on")
        service = LcdService(
            page_seconds=0.05, retry_seconds=0.05, addresses=lambda: ["192.0.2.10"]
        )
        stop = threading.Event()
        thread = threading.Thread(target=supervise, args=(service, stop), daemon=True)
        thread.start()
        yield service
        stop.set()
        thread.join(10)
        assert not thread.is_alive()

    def test_it_shows_the_pages_in_rotation(self, charging, running, module):
        module.wait_for(lambda screen: screen == ("192.0.2.10      ", ":8000 Terminal  "))
        module.wait_for(lambda screen: screen == ("CP-DASH-1 #2    ", "Faulted         "))
        module.wait_for(lambda screen: screen == ("CP-DASH-1 #1    ", "7.4kW 0.35kWh   "))

    def test_it_shows_the_last_scanned_card_from_the_live_event(self, running, module):
        wait_until(lambda: live.listeners() > 0)
        live.publish(card(uid="CAFÉ-1", result="Accepted", action="started", station="CP-9"))

        module.wait_for(lambda screen: screen == ("Card CAFE-1     ", "Accepted        "))

    def test_it_survives_the_display_unplugged_and_plugged_back(self, running, module, i2c):
        home = ("192.0.2.10      ", ":8000 Terminal  ")
        module.wait_for(lambda screen: screen == home)

        module.unplug()
        wait_until(
            lambda: ServiceStatus.objects.filter(
                name="lcd", state=ServiceStatus.State.FAILED, detail__contains="Remote I/O"
            ).exists()
        )
        opened = len(i2c.opened)
        module.plug()  # it comes back blank, in 8-bit mode: RPLCD must set it up again

        module.wait_for(lambda screen: screen == home)
        assert len(i2c.opened) > opened and i2c.closed >= 1
        wait_until(
            lambda: ServiceStatus.objects.filter(
                name="lcd", state=ServiceStatus.State.RUNNING
            ).exists()
        )

    def test_it_clears_the_display_when_it_stops(self, module, i2c, settings):
        set_switch(LCD_SCREEN, "on")
        service = LcdService(page_seconds=0.05, addresses=lambda: ["192.0.2.10"])
        stop = threading.Event()
        thread = threading.Thread(target=supervise, args=(service, stop), daemon=True)
        thread.start()
        module.wait_for(lambda screen: screen[0].startswith("192.0.2.10"))

        stop.set()
        thread.join(10)

        assert module.text() == (" " * 16, " " * 16)
        assert live.listeners() == 0
        assert ServiceStatus.objects.get(name="lcd").state == ServiceStatus.State.STOPPED


class TestChecks:
    def test_the_defaults_pass(self):
        assert check_lcd_settings() == []

    @pytest.mark.parametrize(
        ("name", "value", "check_id"),
        [
            ("LCD_ROWS", 3, "hardware.E101"),
            ("LCD_COLS", 80, "hardware.E101"),
            ("LCD_I2C_ADDRESS", 0x27 * 16, "hardware.E102"),
            ("LCD_PAGE_SECONDS", 0, "hardware.E103"),
        ],
    )
    def test_it_reports_what_the_display_cannot_take(self, settings, name, value, check_id):
        setattr(settings, name, value)

        assert [error.id for error in check_lcd_settings()] == [check_id]


@pytest.mark.django_db(transaction=True)
async def test_a_charger_over_a_socket_shows_its_status_and_session(
    asgi_server, module, i2c, settings
):
    """A 1.6 charger's status, session and readings, sent over a real websocket, on the LCD."""
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.LANGUAGE_CODE = "en"
    await sync_to_async(set_switch)(LCD_SCREEN, "on")
    await sync_to_async(IdTag.objects.create)(id_tag="DRIVER-LCD")
    service = LcdService(page_seconds=0.05, addresses=lambda: ["192.0.2.10"])
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=(service, stop), daemon=True)
    thread.start()
    wait = sync_to_async(module.wait_for, thread_sensitive=False)
    try:
        async with connect_v16(asgi_server.ws_url, "CP-LCD-1") as cp:
            await cp.call(
                call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
            )
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            await wait(lambda screen: screen == ("CP-LCD-1 #1     ", "Charging        "))
            start = await cp.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="DRIVER-LCD",
                    meter_start=1000,
                    timestamp="2026-12-01T09:00:00.000Z",
                )
            )
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[
                        {
                            "timestamp": "2026-12-01T09:05:00.000Z",
                            "sampledValue": [
                                {
                                    "value": "3.25",
                                    "unit": "kWh",
                                    "measurand": "Energy.Active.Import.Register",
                                },
                                {"value": "11", "unit": "kW", "measurand": "Power.Active.Import"},
                            ],
                        }
                    ],
                )
            )
            await wait(lambda screen: screen == ("CP-LCD-1 #1     ", "11.0kW 2.25kWh  "))
    finally:
        stop.set()
        await sync_to_async(thread.join, thread_sensitive=False)(10)
    assert not thread.is_alive()
