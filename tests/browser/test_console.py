"""The console pages in a real browser: the station page's tabs follow a real charger's reset
live, and no page is wider than the screen (1366 x 768 and a phone's 390 x 844), with
screenshots of each for a person to look at (TEST_ARTIFACTS_DIR)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.urls import reverse
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, ConfigurationKey, Connector
from apps.commands.models import ChargerCommand, CommandStatus
from apps.transactions.models import MeterValue, Transaction
from tests.browser.conftest import (
    PASSWORD,
    SCREENS,
    USERNAME,
    css,
    in_browser,
    log_in,
    screenshot,
    shows,
    too_wide,
    wait_for,
)
from tests.ocpp.charger import connect_charger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
async def operator():
    return await sync_to_async(get_user_model().objects.create_superuser)(
        USERNAME, "operator@example.com", PASSWORD
    )


def hidden(selector: str):
    def condition(driver):
        found = css(driver, selector)
        return bool(found) and not found[0].is_displayed()

    return condition


async def test_the_station_page_follows_a_reset_offline_then_online_without_reload(
    asgi_server, browser, operator, settings
):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    base = asgi_server.http_url
    browser.set_window_size(*SCREENS["desktop"])
    await in_browser(log_in, browser, base)
    async with connect_charger(asgi_server.ws_url, "CP-TABS-1", "ocpp1.6") as cp:
        await cp.call(call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-TABS-1")
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-T", meter_start=1000, timestamp=iso(now())
            )
        )
        page = f"{base}/admin/chargers/chargingstation/{station.pk}/change/"
        await in_browser(browser.get, page)
        await in_browser(
            wait_for,
            browser,
            lambda d: (
                d.find_element("id", "cc-station-live").get_attribute("data-live-state") == "open"
            ),
            "the live socket did not open",
        )
        # A running session's energy so far follows its meter values in the Sessions tab.
        await in_browser(lambda: css(browser, "#cc-tab-link-sessions")[0].click())
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {"timestamp": iso(now()), "sampled_value": [{"value": "3250", "unit": "Wh"}]}
                ],
            )
        )
        energy = (
            f'.cc-station-tx[data-transaction-id="{started.transaction_id}"] [data-field=energy]'
        )
        await in_browser(wait_for, browser, shows(energy, "2.250"), "no live energy")
        await in_browser(lambda: css(browser, "#cc-tab-link-overview")[0].click())
        # One tab at a time: the overview first, the operations behind "Commands".
        await in_browser(wait_for, browser, shows("#cc-tab-link-overview", "Overview"), "tabs")
        assert not css(browser, "#station-operations")[0].is_displayed()
        assert css(browser, "#cc-station-live [data-field=heartbeat]")[0].text != "-"  # boot
        await in_browser(lambda: css(browser, "#cc-tab-link-commands")[0].click())
        await in_browser(
            lambda: css(browser, '#station-operations a[href$="/command/reset/"]')[0].click()
        )
        await in_browser(wait_for, browser, lambda d: css(d, "input[name=_send]"), "no Reset form")
        await in_browser(lambda: css(browser, "input[name=_send]")[0].click())
        await in_browser(
            wait_for,
            browser,
            shows(".messagelist", "Reset accepted by station CP-TABS-1"),
            "no outcome",
        )
        # Back on the commands tab, where the history shows the answer.
        await in_browser(wait_for, browser, shows("#command-history", "Accepted"), "history")
        await in_browser(
            wait_for,
            browser,
            lambda d: (
                d.find_element("id", "cc-station-live").get_attribute("data-live-state") == "open"
            ),
            "the live socket did not open",
        )
        browser.execute_script("window.ccNoReload = true;")
        assert cp.received["Reset"] == [{"type": "Soft"}]
    # The charger restarts: its socket closes...
    await in_browser(
        wait_for, browser, shows("#cc-station-live [data-field=online]", "Offline"), "offline"
    )
    await in_browser(
        wait_for, browser, lambda d: css(d, ".cc-offline-note")[0].is_displayed(), "no note"
    )
    # ... and it comes back.
    async with connect_charger(asgi_server.ws_url, "CP-TABS-1", "ocpp1.6") as cp:
        await cp.call(call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme"))
        await in_browser(
            wait_for, browser, shows("#cc-station-live [data-field=online]", "Online"), "online"
        )
        await in_browser(wait_for, browser, hidden(".cc-offline-note"), "the note stayed")
    assert browser.execute_script("return window.ccNoReload === true;")


def make_console_data() -> dict[str, str]:
    """A station with a running session and meter values, and a bulk command's results."""
    now = datetime.now(UTC)
    station = ChargingStation.objects.create(
        charger_id="CP-WIDTH-0001",
        name="A station with a rather long name in the car park",
        registration_status="Accepted",
        ocpp_version="ocpp1.6",
        vendor="Acme Charging Equipment",
        model="Volt 22 kW dual socket",
    )
    connector = Connector.objects.create(station=station, connector_id=1, status="Charging")
    tx = Transaction.objects.create(
        station=station,
        connector=connector,
        transaction_id="1001",
        id_tag="A-LONG-ID-TAG-0001",
        meter_start_wh=1000,
        started_at=now - timedelta(hours=1),
    )
    MeterValue.objects.create(
        transaction=tx,
        station=station,
        connector_id=1,
        timestamp=now,
        value="8500",
        unit="Wh",
        normalized_value=8500,
    )
    for n in range(3):
        Transaction.objects.create(
            station=station,
            connector=connector,
            transaction_id=f"{900 + n}",
            id_tag="A-LONG-ID-TAG-0002",
            meter_start_wh=0,
            meter_stop_wh=12345,
            started_at=now - timedelta(days=1, hours=n),
            stopped_at=now - timedelta(days=1, hours=n - 1),
            stop_reason="EVDisconnected",
        )
    for n in range(12):
        ConfigurationKey.objects.create(
            station=station,
            key=f"VendorSpecificConfigurationKeyWithALongName{n}",
            value="Current.Import,Energy.Active.Import.Register,Power.Active.Import," * 3,
        )
    commands = [
        ChargerCommand.objects.create(
            station=station,
            action="GetConfiguration",
            status=CommandStatus.ACCEPTED,
            response={"configurationKey": [{"key": "HeartbeatInterval", "value": "300"}]},
            timeout_s=30,
        ),
        ChargerCommand.objects.create(
            station=station, action="Reset", status=CommandStatus.OFFLINE, timeout_s=30
        ),
    ]
    ids = ",".join(str(command.pk) for command in commands)
    return {
        "dashboard": reverse("dashboard:index"),
        "station": reverse("admin:chargers_chargingstation_change", args=[station.pk]),
        "transactions": reverse("admin:transactions_transaction_changelist"),
        "bulk-results": reverse("admin:chargers_chargingstation_bulk_results") + f"?commands={ids}",
        "index": reverse("admin:index"),
    }


async def test_no_page_is_wider_than_the_screen(asgi_server, browser, operator):
    pages = await sync_to_async(make_console_data)()
    base = asgi_server.http_url
    await in_browser(log_in, browser, base)
    wide = []
    for screen, size in SCREENS.items():
        browser.set_window_size(*size)
        for name, path in pages.items():
            await in_browser(browser.get, f"{base}{path}")
            await in_browser(
                wait_for, browser, lambda d: css(d, "#content-main"), f"{name} did not load"
            )
            await in_browser(screenshot, browser, f"console-{name}-{screen}")
            widths = too_wide(browser)
            if widths:
                wide.append((name, screen, widths))
    assert wide == []

    # The station page in tabs: no tab is near the old page's 4,400 px scroll (two screens
    # at most), and none is wider than the window.
    browser.set_window_size(*SCREENS["desktop"])
    await in_browser(browser.get, f"{base}{pages['station']}")
    heights = {}
    for link in css(browser, "#cc-station-tabs a"):
        link.click()
        key = link.get_attribute("data-tab")
        heights[key] = browser.execute_script("return document.documentElement.scrollHeight;")
        widths = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth];"
        )
        assert widths[0] <= widths[1], (key, widths)
        await in_browser(screenshot, browser, f"console-station-tab-{key}")
    assert len(heights) == 7
    assert max(heights.values()) < 1600, heights
    # At 1366 px the transaction list shows its energy and stop reason.
    browser.set_window_size(*SCREENS["desktop"])
    await in_browser(browser.get, f"{base}{pages['transactions']}")
    for column in ("column-energy_display", "column-stop_reason"):
        header = css(browser, f"th.{column}")[0]
        assert header.is_displayed()
        assert header.rect["x"] + header.rect["width"] <= 1366, column
