"""The main journeys of an operator of ONE site, in a real browser (issue #20).

The operator is staff with the permissions the pages need and a member of site A only (not
a superuser, not "all sites"). Site A has three stations connected as real OCPP 1.6 charger
clients over sockets, one of them Faulted, and an Accepted id tag; site B has one station,
a running session and a card, all with ids that must appear nowhere the operator looks.
Every page visited is screenshotted at 1366 x 768 and 390 x 844 (TEST_ARTIFACTS_DIR) and
must not scroll sideways on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, Site, SiteMembership
from apps.commands.models import ChargerCommand
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction
from tests.browser.conftest import (
    PASSWORD,
    WAIT_S,
    css,
    in_browser,
    log_in,
    on_every_screen,
    shows,
    wait_for,
)
from tests.ocpp.charger import V16Charger, connect_charger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATOR = "operator-of-a"
# What an operator of site A needs on these pages, and nothing of "all sites".
PERMISSIONS = [
    "chargers.view_chargingstation",
    "chargers.change_chargingstation",
    "commands.add_chargercommand",
    "commands.view_chargercommand",
    "transactions.view_transaction",
    "rfid.view_idtag",
]
A_STATIONS = ["CP-A-NORTH", "CP-A-SOUTH", "CP-A-WEST"]
FAULTED = "CP-A-SOUTH"
A_TAG = "TAG-A-DRIVER"
# Site B's ids: distinctive, so that finding them anywhere in a page is a leak.
B_STATION = "CP-B-HIDDEN-7731"
B_TAG = "TAG-B-HIDDEN-7731"
B_TRANSACTION = "77317731"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass
class Sites:
    stations: dict[str, ChargingStation]
    b_station: ChargingStation
    wide: dict[str, Any] = field(default_factory=dict)

    def look(self, driver: Any, name: str) -> None:
        """Screenshot the page on both screens; remember it if it scrolls sideways."""
        wide = on_every_screen(driver, f"journey-{name}")
        if wide:
            self.wide[name] = wide


def make_sites() -> Sites:
    site_a = Site.objects.create(name="Depot A")
    site_b = Site.objects.create(name="Depot B")
    stations = {
        charger_id: ChargingStation.objects.create(
            charger_id=charger_id,
            site=site_a,
            registration_status="Accepted",
            ocpp_version="ocpp1.6",
        )
        for charger_id in A_STATIONS
    }
    b_station = ChargingStation.objects.create(
        charger_id=B_STATION, site=site_b, registration_status="Accepted", ocpp_version="ocpp1.6"
    )
    Transaction.objects.create(
        station=b_station, transaction_id=B_TRANSACTION, id_tag=B_TAG, started_at=now()
    )
    IdTag.objects.create(id_tag=A_TAG, site=site_a)
    IdTag.objects.create(id_tag=B_TAG, site=site_b)
    user = get_user_model().objects.create_user(OPERATOR, password=PASSWORD, is_staff=True)
    for perm in PERMISSIONS:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    SiteMembership.objects.create(user=user, site=site_a)
    return Sites(stations=stations, b_station=b_station)


@pytest.fixture
async def sites() -> Sites:
    return await sync_to_async(make_sites)()


async def until(condition: Callable[[], Any], message: str) -> Any:
    """Wait, without blocking the chargers' loop, until `condition()` is true; return it."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = await sync_to_async(condition)()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.05)


async def boot(cp: V16Charger, status: str = "Available") -> None:
    await cp.call(call.BootNotification(charge_point_model="Volt", charge_point_vendor="Acme"))
    error = "GroundFailure" if status == "Faulted" else "NoError"
    await cp.call(call.StatusNotification(connector_id=1, error_code=error, status=status))


@contextlib.asynccontextmanager
async def site_a_online(ws_url: str, *, but: str = "") -> AsyncIterator[dict[str, Any]]:
    """Connect site A's chargers (the faulted one reporting Faulted) for the block.

    Yields the charger clients by id. `but`: a charger the journey connects itself.
    """
    async with contextlib.AsyncExitStack() as stack:
        chargers: dict[str, Any] = {}
        for charger_id in A_STATIONS:
            if charger_id == but:
                continue
            connection = connect_charger(ws_url, charger_id, "ocpp1.6")
            chargers[charger_id] = await stack.enter_async_context(connection)
            await boot(chargers[charger_id], "Faulted" if charger_id == FAULTED else "Available")
        yield chargers


def live_open(selector: str) -> Callable[[Any], bool]:
    def condition(driver: Any) -> bool:
        found = css(driver, selector)
        return bool(found) and found[0].get_attribute("data-live-state") == "open"

    return condition


async def test_journey_1_a_faulted_station_is_reset_and_comes_back_without_reload(
    asgi_server, browser, sites
):
    base = asgi_server.http_url
    station = sites.stations[FAULTED]
    await in_browser(log_in, browser, base, OPERATOR)
    faulted = connect_charger(asgi_server.ws_url, FAULTED, "ocpp1.6")
    async with site_a_online(asgi_server.ws_url, but=FAULTED):  # the other two
        cp = await faulted.__aenter__()
        await boot(cp, "Faulted")
        try:
            await in_browser(browser.get, f"{base}/admin/control-center/")
            await in_browser(wait_for, browser, live_open("#content-main"), "no live socket")
            row = f'.cc-station[data-station="{station.pk}"]'
            badge = f'{row} [data-connector="1"]'
            await in_browser(wait_for, browser, shows(badge, "Faulted"), "not shown as faulted")
            assert "cc-status-faulted" in css(browser, badge)[0].get_attribute("class")
            sites.look(browser, "dashboard-faulted")

            # Click through to its station page, send Reset from its form.
            await in_browser(lambda: css(browser, f"{row} .cc-station-name")[0].click())
            await in_browser(wait_for, browser, live_open("#cc-station-live"), "no live socket")
            assert FAULTED in browser.find_element("id", "content").text
            sites.look(browser, "station-page")
            await in_browser(lambda: css(browser, "#cc-tab-link-commands")[0].click())
            await in_browser(
                lambda: css(browser, '#station-operations a[href$="/command/reset/"]')[0].click()
            )
            await in_browser(wait_for, browser, lambda d: css(d, "input[name=_send]"), "no form")
            sites.look(browser, "reset-form")
            await in_browser(lambda: css(browser, "input[name=_send]")[0].click())
            await in_browser(
                wait_for,
                browser,
                shows(".messagelist", f"Reset accepted by station {FAULTED}"),
                "no Accepted outcome",
            )
            assert len(cp.received["Reset"]) == 1
            await in_browser(wait_for, browser, live_open("#cc-station-live"), "no live socket")
            sites.look(browser, "station-reset-accepted")
            browser.execute_script("window.journeyMarker = 'same window';")
        finally:
            # The charger restarts: its socket closes...
            await faulted.__aexit__(None, None, None)
        await in_browser(
            wait_for, browser, shows("#cc-station-live [data-field=online]", "Offline"), "offline"
        )
        # ... and it comes back and boots, while the same page is open.
        async with connect_charger(asgi_server.ws_url, FAULTED, "ocpp1.6") as cp:
            await boot(cp)
            await in_browser(
                wait_for, browser, shows("#cc-station-live [data-field=online]", "Online"), "back"
            )
    assert browser.execute_script("return window.journeyMarker;") == "same window"
    assert sites.wide == {}


async def test_journey_2_a_session_started_with_a_picked_tag_is_stopped_from_the_dashboard(
    asgi_server, browser, sites
):
    base = asgi_server.http_url
    charger_id = A_STATIONS[0]
    station = sites.stations[charger_id]
    await in_browser(log_in, browser, base, OPERATOR)
    async with site_a_online(asgi_server.ws_url) as chargers:
        cp = chargers[charger_id]
        await in_browser(browser.get, f"{base}/admin/chargers/chargingstation/{station.pk}/change/")
        await in_browser(lambda: css(browser, "#cc-tab-link-commands")[0].click())
        await in_browser(
            lambda: css(browser, '#station-operations a[href$="/command/remote_start/"]')[0].click()
        )
        await in_browser(wait_for, browser, lambda d: css(d, "#id_id_tag"), "no Remote start form")
        sites.look(browser, "remote-start-form")
        # The picker offers site A's card and not site B's.
        offered = [
            option.get_attribute("value") for option in css(browser, "#id_id_tag-choices option")
        ]
        assert offered == [A_TAG]

        def pick_the_tag() -> None:
            # A datalist's drop-down is drawn by the browser, outside the page: pick its
            # option as the browser does when one is chosen, by giving the input its value.
            browser.execute_script(
                "const input = document.getElementById('id_id_tag');"
                "input.value = document.querySelector('#id_id_tag-choices option').value;"
                "input.dispatchEvent(new Event('input', {bubbles: true}));"
            )
            css(browser, "input[name=_send]")[0].click()

        await in_browser(pick_the_tag)
        await in_browser(
            wait_for,
            browser,
            shows(".messagelist", f"accepted by station {charger_id}"),
            "no Accepted outcome",
        )
        assert cp.received["RemoteStartTransaction"] == [{"id_tag": A_TAG, "connector_id": 1}]

        # The charger starts the session it was asked for.
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag=A_TAG, meter_start=0, timestamp=iso(now()))
        )
        assert started.id_tag_info["status"] == "Accepted"
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )

        await in_browser(browser.get, f"{base}/admin/control-center/")
        row = f'.cc-station[data-station="{station.pk}"] [data-connector="1"]'
        await in_browser(wait_for, browser, shows(row, "Charging"), "not shown charging")
        tx_row = f'.cc-transaction[data-transaction-id="{started.transaction_id}"]'
        await in_browser(wait_for, browser, shows(tx_row, A_TAG), "the session is not listed")
        sites.look(browser, "dashboard-charging")

        # Stop from the dashboard row, confirm.
        await in_browser(lambda: css(browser, f"{tx_row} a.cc-stop")[0].click())
        await in_browser(wait_for, browser, lambda d: css(d, "#stop-form"), "no confirmation")
        sites.look(browser, "stop-confirmation")
        await in_browser(lambda: css(browser, "#stop-form input[type=submit]")[0].click())
        # Back on the dashboard, live again, before the charger reports the stop: the page
        # does not catch up on events sent while its live socket was not open yet.
        await in_browser(
            wait_for,
            browser,
            lambda d: d.current_url.endswith("/admin/control-center/") and css(d, "#cc-stations"),
            "not back on the dashboard",
        )
        await in_browser(wait_for, browser, live_open("#content-main"), "no live socket")
        await in_browser(
            wait_for,
            browser,
            shows(".messagelist", f"on station {charger_id}: Accepted"),
            "no Accepted outcome",
        )
        await until(lambda: cp.received["RemoteStopTransaction"], "no RemoteStopTransaction")
        assert cp.received["RemoteStopTransaction"] == [{"transaction_id": started.transaction_id}]
        await cp.call(
            call.StopTransaction(
                transaction_id=started.transaction_id,
                meter_stop=4200,
                timestamp=iso(now()),
                reason="Remote",
            )
        )
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        ended = await until(
            lambda: Transaction.objects.filter(
                station=station,
                transaction_id=str(started.transaction_id),
                stopped_at__isnull=False,
            ).first(),
            "the session did not end in the database",
        )
        assert ended.meter_stop_wh == 4200
        await in_browser(wait_for, browser, lambda d: not css(d, tx_row), "still listed")
        sites.look(browser, "dashboard-stopped")
    assert sites.wide == {}


async def test_journey_3_a_bulk_change_availability_reaches_the_three_stations(
    asgi_server, browser, sites
):
    from selenium.webdriver.support.ui import Select

    base = asgi_server.http_url
    await in_browser(log_in, browser, base, OPERATOR)
    async with site_a_online(asgi_server.ws_url) as chargers:
        await in_browser(browser.get, f"{base}/admin/chargers/chargingstation/")
        await in_browser(wait_for, browser, lambda d: css(d, "#result_list"), "no station list")
        sites.look(browser, "station-list")

        def choose_the_action() -> None:
            for station in sites.stations.values():
                css(browser, f'input.action-select[value="{station.pk}"]')[0].click()
            Select(css(browser, "select[name=action]")[0]).select_by_value("send_command")
            css(browser, "button[name=index]")[0].click()

        await in_browser(choose_the_action)
        await in_browser(wait_for, browser, lambda d: css(d, "#bulk-command-form"), "no bulk form")

        def choose_change_availability() -> None:
            Select(css(browser, "select[name=operation]")[0]).select_by_value("change_availability")
            css(browser, "input[name=_choose]")[0].click()

        await in_browser(choose_change_availability)
        inoperative = "input[name$=operative][value='0']"
        await in_browser(wait_for, browser, lambda d: css(d, inoperative), "no availability form")
        sites.look(browser, "bulk-command")

        def send_inoperative() -> None:
            css(browser, inoperative)[0].click()
            css(browser, "input[name=_send]")[0].click()

        await in_browser(send_inoperative)
        await in_browser(wait_for, browser, lambda d: css(d, "#bulk-results"), "no results page")
        await in_browser(
            wait_for,
            browser,
            lambda d: len(css(d, "tr.bulk-result[data-status=accepted]")) == 3,
            "not three Accepted outcomes",
        )
        sites.look(browser, "bulk-results")
        shown = {row.get_attribute("data-station") for row in css(browser, "tr.bulk-result")}
        assert shown == set(A_STATIONS)
        for charger_id, cp in chargers.items():
            assert cp.received["ChangeAvailability"] == [
                {"connector_id": 0, "type": "Inoperative"}
            ], charger_id
        sent = await sync_to_async(
            lambda: sorted(
                ChargerCommand.objects.filter(action="ChangeAvailability").values_list(
                    "station__charger_id", "status"
                )
            )
        )()
        assert sent == [(charger_id, "accepted") for charger_id in A_STATIONS]
    assert sites.wide == {}


async def test_journey_4_another_site_s_station_is_invisible(asgi_server, browser, sites):
    base = asgi_server.http_url
    await in_browser(log_in, browser, base, OPERATOR)

    def visit(path: str, name: str, ready: str) -> str:
        browser.get(f"{base}{path}")
        wait_for(browser, lambda d: css(d, ready), f"{name} did not load")
        sites.look(browser, name)
        return browser.page_source

    pages = {
        "dashboard": ("/admin/control-center/", "#cc-stations"),
        "stations": ("/admin/chargers/chargingstation/", "#result_list"),
        "transactions": ("/admin/transactions/transaction/", "#changelist"),
        "id-tags": ("/admin/rfid/idtag/", "#result_list"),
    }
    for name, (path, ready) in pages.items():
        page = await in_browser(visit, path, f"site-b-{name}", ready)
        assert B_STATION not in page, name
        assert B_TAG not in page, name
        assert B_TRANSACTION not in page, name
        assert A_STATIONS[0] in page or name in ("transactions", "id-tags"), name
    assert css(browser, "#result_list") and A_TAG in browser.page_source

    # The bulk choice: every station the list offers, selected at once, is site A's three.
    def select_all_for_a_bulk_command() -> str:
        from selenium.webdriver.support.ui import Select

        browser.get(f"{base}/admin/chargers/chargingstation/")
        boxes = css(browser, "input.action-select")
        assert {box.get_attribute("value") for box in boxes} == {
            str(station.pk) for station in sites.stations.values()
        }
        css(browser, "#action-toggle")[0].click()
        Select(css(browser, "select[name=action]")[0]).select_by_value("send_command")
        css(browser, "button[name=index]")[0].click()
        wait_for(browser, lambda d: css(d, "#bulk-command-form"), "no bulk form")
        sites.look(browser, "site-b-bulk-choice")
        return browser.find_element("id", "content-main").text

    chosen = await in_browser(select_all_for_a_bulk_command)
    assert B_STATION not in chosen
    assert all(charger_id in chosen for charger_id in A_STATIONS)

    # Its station page, opened by its address: not there.
    target = f"{base}/admin/chargers/chargingstation/{sites.b_station.pk}/change/"
    await in_browser(browser.get, target)
    await in_browser(wait_for, browser, lambda d: css(d, "#content"), "no page")
    sites.look(browser, "site-b-station-by-address")
    assert B_STATION not in browser.page_source
    assert browser.current_url != target  # sent away: the admin says it does not exist
    assert "exist" in browser.find_element("css selector", ".messagelist").text
    assert sites.wide == {}
