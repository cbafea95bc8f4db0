"""The control center in a real browser: live dashboard, station page commands, charts.

Real chargers (the `ocpp` library's charge points) talk to the real ASGI server while the
page is open; the tests wait for the page itself to change, never reload it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.transactions.models import Transaction
from apps.transactions.samples import SampledValue
from apps.transactions.services import meter_values_record, transaction_start
from tests.browser.conftest import PASSWORD, USERNAME, in_browser, log_in, screenshot, wait_for
from tests.ocpp.charger import connect_charger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
async def operator():
    return await sync_to_async(get_user_model().objects.create_superuser)(
        USERNAME, "operator@example.com", PASSWORD
    )


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(selector: str):
    """A wait condition: the text of the first element matching `selector`, once it exists."""

    def condition(driver):
        found = css(driver, selector)
        return found[0].text if found else False

    return condition


def has_text(selector: str, expected: str):
    def condition(driver):
        found = css(driver, selector)
        return bool(found) and expected in found[0].text

    return condition


async def test_the_dashboard_follows_a_charger_live(asgi_server, browser, operator, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    base = asgi_server.http_url
    await in_browser(log_in, browser, base)
    await in_browser(browser.get, f"{base}/admin/control-center/")
    await in_browser(
        wait_for,
        browser,
        lambda d: d.find_element("id", "content-main").get_attribute("data-live-state") == "open",
        "the live socket did not open",
    )
    assert not css(browser, ".cc-station[data-station] .cc-station-name")

    async with connect_charger(asgi_server.ws_url, "CP-BROWSER-1", "ocpp1.6") as cp:
        await cp.call(call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme"))
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-BROWSER-1")
        row = f'.cc-station[data-station="{station.pk}"]'
        await in_browser(
            wait_for, browser, has_text(f"{row} [data-field=online]", "Online"), "not online"
        )
        assert css(browser, f"{row} .cc-station-name")[0].text == "CP-BROWSER-1"

        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        badge = f'{row} [data-connector="1"]'
        await in_browser(wait_for, browser, has_text(badge, "Available"), "no Available badge")
        await cp.call(call.Heartbeat())
        await in_browser(
            wait_for, browser, text_of(f"{row} time[data-field=heartbeat][datetime]"), "no beat"
        )

        start = datetime.now(UTC).replace(microsecond=0)
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-B", meter_start=1000, timestamp=iso(start)
            )
        )
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        await in_browser(wait_for, browser, has_text(badge, "Charging"), "no Charging badge")
        assert "cc-status-charging" in css(browser, badge)[0].get_attribute("class")

        tx_row = f'.cc-transaction[data-transaction-id="{started.transaction_id}"]'
        await in_browser(wait_for, browser, text_of(tx_row), "the transaction did not appear")
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": iso(start + timedelta(minutes=1)),
                        "sampled_value": [
                            {"value": "1350", "unit": "Wh"},
                            {"value": "7.4", "unit": "kW", "measurand": "Power.Active.Import"},
                        ],
                    }
                ],
            )
        )
        await in_browser(
            wait_for, browser, has_text(f"{tx_row} [data-field=power]", "7.40"), "no live power"
        )
        assert css(browser, f"{tx_row} [data-field=energy]")[0].text == "0.350"
        assert css(browser, "#cc-total-power")[0].text == "7.40"
        await in_browser(screenshot, browser, "dashboard-live")

        browser.set_window_size(390, 844)
        await in_browser(screenshot, browser, "dashboard-phone")
        assert not css(browser, "#cc-stations thead")[0].is_displayed()  # rows became cards
        browser.set_window_size(1280, 1000)

    await in_browser(
        wait_for, browser, has_text(f"{row} [data-field=online]", "Offline"), "not offline"
    )
    assert browser.find_element("id", "content-main").get_attribute("data-live-state") == "open"
    # Offline: its session stays open and listed, but nothing of it is a live figure now.
    assert css(browser, tx_row)
    assert css(browser, f"{tx_row} [data-field=power]")[0].text == "-"
    assert css(browser, "#cc-total-power")[0].text == "0.00"
    assert css(browser, "#cc-charging-count")[0].text == "0"


async def test_an_operator_approves_a_station_and_sends_a_command(
    asgi_server, browser, operator, settings
):
    settings.OCPP_UNKNOWN_STATIONS = "pending"
    base = asgi_server.http_url
    await in_browser(log_in, browser, base)
    async with connect_charger(asgi_server.ws_url, "CP-BROWSER-2", "ocpp1.6") as cp:
        booted = await cp.call(
            call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme")
        )
        assert booted.status == "Pending"
        station = await sync_to_async(ChargingStation.objects.get)(charger_id="CP-BROWSER-2")
        page = f"{base}/admin/chargers/chargingstation/{station.pk}/change/"
        await in_browser(browser.get, page)
        await in_browser(lambda: css(browser, "#cc-approve")[0].click())
        await in_browser(
            wait_for, browser, has_text(".messagelist", "approved"), "no approval message"
        )
        await station.arefresh_from_db()
        assert station.registration_status == RegistrationStatus.ACCEPTED
        assert not css(browser, "#cc-approve")
        booted = await cp.call(
            call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme")
        )
        assert booted.status == "Accepted"

        await in_browser(lambda: css(browser, "#cc-tab-link-commands")[0].click())
        await in_browser(
            lambda: css(browser, '#station-operations a[href$="/command/reset/"]')[0].click()
        )
        await in_browser(
            wait_for, browser, lambda d: css(d, "input[name=hard][value='0']"), "no Reset form"
        )

        def send_soft_reset() -> None:
            css(browser, "input[name=hard][value='0']")[0].click()
            css(browser, "input[name=_send]")[0].click()

        await in_browser(send_soft_reset)
        await in_browser(
            wait_for,
            browser,
            has_text(".messagelist", "Reset accepted by station CP-BROWSER-2"),
            "no outcome message",
        )
        assert cp.received["Reset"] == [{"type": "Soft"}]
        await in_browser(
            wait_for, browser, has_text("#command-history tbody tr", "Accepted"), "no history"
        )
        await in_browser(screenshot, browser, "station-command")
        await in_browser(lambda: css(browser, "#cc-tab-link-sessions")[0].click())
        await in_browser(screenshot, browser, "station-panels")


async def test_a_transaction_page_draws_energy_and_power(asgi_server, browser, operator):
    def make_transaction() -> Transaction:
        station = ChargingStation.objects.create(
            charger_id="CP-BROWSER-3", registration_status=RegistrationStatus.ACCEPTED
        )
        t0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
        tx, _ = transaction_start(
            station_id=station.pk,
            connector_id=1,
            id_tag="TAG-C",
            meter_start_wh=5000,
            started_at=t0,
            free_charging=True,
        )
        for minute in range(1, 31):
            at = t0 + timedelta(minutes=minute)
            power = 7000 if minute < 20 else 3500
            meter_values_record(
                station_id=station.pk,
                connector_id=1,
                transaction_id=tx.transaction_id,
                samples=[
                    SampledValue(timestamp=at, value=str(5000 + minute * 110), unit="Wh"),
                    SampledValue(
                        timestamp=at, value=str(power), unit="W", measurand="Power.Active.Import"
                    ),
                ],
            )
        return tx

    tx = await sync_to_async(make_transaction)()
    base = asgi_server.http_url
    await in_browser(log_in, browser, base)
    await in_browser(browser.get, f"{base}/admin/transactions/transaction/{tx.pk}/change/")
    await in_browser(wait_for, browser, text_of(".cc-charts"), "no charts")
    lines = css(browser, "svg.cc-chart path.cc-chart-line")
    assert len(lines) == 2
    assert all(line.get_attribute("d").count("L") >= 29 for line in lines)
    page = browser.find_element("id", "content").text
    assert "TAG-C" in page
    assert "3.300" in page  # energy so far: 5000 + 30 * 110 Wh, less the meter start 5000 Wh
    assert css(browser, 'a[href$="/meter-values.csv"]')
    browser.execute_script("document.querySelector('.cc-charts').scrollIntoView()")
    await in_browser(screenshot, browser, "transaction-chart")
