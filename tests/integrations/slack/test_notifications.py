"""Notifications: live events of the real services reach the site's channel at the local Slack."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.core.exceptions import ValidationError
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, Site
from apps.chargers.services import (
    ConnectorStatus,
    connector_status_update,
    station_connect,
    station_disconnect,
)
from apps.core import live
from apps.core.events import ConnectorStatusChanged, TransactionEventRecorded
from apps.core.processes import process_serving
from apps.energy.models import Tariff
from apps.energy.services import tariff_save_version
from apps.integrations.slack import notifications, tasks
from apps.integrations.slack.models import NotificationKind, SlackChannelRoute
from apps.security.services import security_event_record
from apps.transactions.models import Transaction
from apps.transactions.services import transaction_start, transaction_stop
from tests.integrations.slack.conftest import BOT_TOKEN
from tests.ocpp.charger import connect_v16
from tests.personas import T0

pytestmark = pytest.mark.django_db(transaction=True)

SITE_FAULTS = "C0SITEFLT"
DEFAULT_FAULTS = "C0DEFFLT0"
SESSIONS = "C0SESSION"
SECURITY = "C0SECURTY"


@pytest.fixture
def listening(slack, workspace, settings):
    """This process listens to its live events as a server process does (process_serving)."""
    settings.CELERY_QUEUE = "off"  # the background thread, not a Celery worker
    cache.clear()
    notifications.listen()
    yield
    live.flush()
    notifications.stop_listening()


@pytest.fixture
def site() -> Site:
    return Site.objects.create(name="Depot Nord", time_zone="Europe/Rome")


@pytest.fixture
def routes(slack, site) -> None:
    slack.channels.update({SITE_FAULTS, DEFAULT_FAULTS, SESSIONS, SECURITY})
    SlackChannelRoute.objects.create(site=site, kind=NotificationKind.FAULTS, channel=SITE_FAULTS)
    SlackChannelRoute.objects.create(kind=NotificationKind.FAULTS, channel=DEFAULT_FAULTS)
    SlackChannelRoute.objects.create(kind=NotificationKind.SESSIONS, channel=SESSIONS)
    SlackChannelRoute.objects.create(kind=NotificationKind.SECURITY, channel=SECURITY)


def faulted(station: ChargingStation, connector: int, code: str = "GroundFailure") -> None:
    connector_status_update(
        station_id=station.pk,
        report=ConnectorStatus(
            connector_id=connector, status="Faulted", error_code=code, timestamp=T0
        ),
    )


def test_a_fault_goes_to_the_channel_of_the_station_site_and_others_to_the_default(
    slack, listening, routes, site
):
    on_site = ChargingStation.objects.create(charger_id="CP-NORD-1", site=site)
    no_site = ChargingStation.objects.create(charger_id="CP-LOOSE-1")

    faulted(on_site, 2)
    faulted(no_site, 0, "PowerMeterFailure")

    posted = slack.wait_posted(2)
    assert [(p["channel"], p["text"]) for p in posted] == [
        (SITE_FAULTS, ":warning: Faulted: station CP-NORD-1, connector 2 (error GroundFailure)."),
        (DEFAULT_FAULTS, ":warning: Faulted: station CP-LOOSE-1 (error PowerMeterFailure)."),
    ]


def test_a_site_without_its_own_channel_uses_the_default(slack, listening, routes):
    other = Site.objects.create(name="Depot Sud")
    station = ChargingStation.objects.create(charger_id="CP-SUD-1", site=other)

    faulted(station, 1)

    assert slack.wait_posted(1)[0]["channel"] == DEFAULT_FAULTS


def test_other_statuses_are_not_told(slack, listening, routes, site):
    station = ChargingStation.objects.create(charger_id="CP-NORD-2", site=site)
    connector_status_update(
        station_id=station.pk,
        report=ConnectorStatus(connector_id=1, status="Charging", timestamp=T0),
    )
    faulted(station, 1)  # the events are handled in order: this one comes after

    assert [p["text"] for p in slack.wait_posted(1)] == [
        ":warning: Faulted: station CP-NORD-2, connector 1 (error GroundFailure)."
    ]
    assert live.flush()
    assert len(slack.posted) == 1


def test_what_a_charger_reports_cannot_ping_the_channel(slack, listening, routes):
    station = ChargingStation.objects.create(charger_id="CP-<!channel>")

    faulted(station, 1, "<https://evil.example|click>")

    assert slack.wait_posted(1)[0]["text"] == (
        ":warning: Faulted: station CP-&lt;!channel&gt;, connector 1 "
        "(error &lt;https://evil.example|click&gt;)."
    )


def test_a_station_going_offline_is_told_unless_it_is_back_already(slack, listening, routes, site):
    station = ChargingStation.objects.create(charger_id="CP-NORD-3", site=site)
    station_connect(station=station, connection_id="c1", ocpp_version="ocpp1.6")
    station_disconnect(station_id=station.pk, connection_id="c1")

    assert slack.wait_posted(1)[0]["text"] == ":electric_plug: Station CP-NORD-3 is offline."
    assert slack.posted[0]["channel"] == SITE_FAULTS
    # A newer connection took over: the old one's end is published, the station is online.
    station_connect(station=station, connection_id="c3", ocpp_version="ocpp1.6")
    station_disconnect(station_id=station.pk, connection_id="c2")
    faulted(station, 1)  # handled after that end

    assert slack.wait_posted(2)[1]["text"].startswith(":warning: Faulted")
    assert len(slack.posted) == 2


def test_the_celery_task_posts_what_the_listener_queued(slack, workspace, routes):
    station = ChargingStation.objects.create(charger_id="CP-CELERY")
    described = notifications.describe(
        ConnectorStatusChanged(
            station=station.pk, connector=1, status="Faulted", error_code="OtherError", at=T0
        )
    )

    assert tasks.notify.apply(args=[described]).get() is True
    assert slack.posted[0]["text"] == (
        ":warning: Faulted: station CP-CELERY, connector 1 (error OtherError)."
    )


def test_a_session_ended_is_told_with_its_energy_and_cost(slack, listening, routes):
    station = ChargingStation.objects.create(charger_id="CP-TX-1")
    tariff_save_version(
        tariff=Tariff(
            code="std",
            name="Standard",
            energy_price=Decimal("0.40"),
            valid_from=T0 - timedelta(days=1),
        ),
        now=T0 - timedelta(days=1),
    )
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=1,
        id_tag="TAG-7",
        meter_start_wh=1_000,
        started_at=T0,
        free_charging=True,
    )
    transaction_stop(
        station_id=station.pk,
        transaction_id=tx.transaction_id,
        meter_stop_wh=13_350,
        stopped_at=T0 + timedelta(hours=1),
        reason="EVDisconnected",
    )

    posted = slack.wait_posted(1)
    assert posted[0]["channel"] == SESSIONS
    assert posted[0]["text"] == (
        f"Session {tx.transaction_id} ended on CP-TX-1, connector 1 (EVDisconnected): "
        "12.350 kWh, cost 4.94 EUR."
    )


def test_a_2x_session_ended_is_told_once_though_reported_again(slack, listening, routes):
    station = ChargingStation.objects.create(charger_id="CP-V2", ocpp_version="ocpp2.0.1")
    tx = Transaction.objects.create(
        station=station,
        transaction_id="f3a1c2d4-2x",
        started_at=T0,
        stopped_at=T0 + timedelta(minutes=30),
        meter_start_wh=0,
        meter_stop_wh=7_000,
        stop_reason="Local",
    )
    ended = TransactionEventRecorded(
        station=station.pk,
        connector=None,
        transaction=tx.pk,
        transaction_id=tx.transaction_id,
        id_tag="",
        meter_start_wh=0,
        started_at=T0,
        stopped_at=tx.stopped_at,
        reason="Local",
        active=False,
        power_w=None,
        register_wh=7_000.0,
    )
    live.publish(ended)
    live.publish(ended)
    faulted(station, 1)  # handled after both

    posted = slack.wait_posted(2)
    assert [p["channel"] for p in posted] == [SESSIONS, DEFAULT_FAULTS]
    assert posted[0]["text"] == (
        "Session f3a1c2d4-2x ended on CP-V2, connector - (Local): 7.000 kWh, cost not priced."
    )


def test_a_security_event_is_told_once_a_minute_per_type_and_station(slack, listening, routes):
    station = ChargingStation.objects.create(charger_id="CP-SEC-1")
    for _ in range(3):
        security_event_record(
            source="station",
            event_type="InvalidFirmwareSignature",
            charger_id="CP-SEC-1",
            station_id=station.pk,
            tech_info="bad signature",
        )
    faulted(station, 1)  # after the three: when it is posted, they were handled

    posted = slack.wait_posted(2)
    assert [(p["channel"], p["text"]) for p in posted] == [
        (
            SECURITY,
            ":rotating_light: Security event InvalidFirmwareSignature on CP-SEC-1: bad signature",
        ),
        (DEFAULT_FAULTS, ":warning: Faulted: station CP-SEC-1, connector 1 (error GroundFailure)."),
    ]


def test_rate_limits_and_slack_errors_are_tried_again_a_bounded_number_of_times(
    slack, listening, routes, caplog
):
    station = ChargingStation.objects.create(charger_id="CP-RETRY")
    slack.fail_next.extend([429, 503])

    faulted(station, 1)

    assert len(slack.wait_posted(1)) == 1
    assert slack.calls.count("chat.postMessage") == 3

    caplog.set_level(logging.INFO)
    slack.fail_next.extend([503, 503, 503])
    faulted(station, 2)
    slack.wait_calls("chat.postMessage", 6)
    assert live.flush()
    faulted(station, 3)  # handled after the failed one: its post means the other gave up
    slack.wait_posted(2)
    assert slack.calls.count("chat.postMessage") == 7
    assert slack.posted[-1]["text"].endswith("connector 3 (error GroundFailure).")
    assert "internal_error" in caplog.text
    assert BOT_TOKEN not in caplog.text


def test_a_channel_slack_does_not_know_is_not_tried_again(slack, listening, routes, caplog):
    SlackChannelRoute.objects.filter(site=None, kind=NotificationKind.FAULTS).update(
        channel="C0GONE000"
    )
    station = ChargingStation.objects.create(charger_id="CP-GONE")

    faulted(station, 1)
    security_event_record(source="csms", event_type="Probe", charger_id="CP-GONE")

    slack.wait_posted(1)
    assert slack.calls.count("chat.postMessage") == 2  # one each: no retry of channel_not_found
    assert "channel_not_found" in caplog.text


def test_nothing_is_sent_without_a_channel_for_the_kind(slack, listening, site):
    slack.channels.add(SECURITY)
    SlackChannelRoute.objects.create(kind=NotificationKind.SECURITY, channel=SECURITY)
    station = ChargingStation.objects.create(charger_id="CP-QUIET", site=site)

    faulted(station, 1)  # no faults channel at all
    security_event_record(source="csms", event_type="Probe", charger_id="CP-QUIET")

    assert [p["channel"] for p in slack.wait_posted(1)] == [SECURITY]
    assert live.flush()
    assert slack.calls == ["chat.postMessage"]


async def test_a_charger_reporting_faulted_over_its_socket_reaches_slack(
    asgi_server, slack, listening, routes, site, settings
):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    async with connect_v16(asgi_server.ws_url, "CP-SOCKET-SL") as cp:
        await cp.call(
            call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
        )
        await sync_to_async(ChargingStation.objects.filter(charger_id="CP-SOCKET-SL").update)(
            site=site
        )
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="HighTemperature", status="Faulted")
        )
        posted = await sync_to_async(slack.wait_posted)(1)

    assert posted[0]["channel"] == SITE_FAULTS
    assert posted[0]["text"] == (
        ":warning: Faulted: station CP-SOCKET-SL, connector 1 (error HighTemperature)."
    )


def test_messages_are_written_in_the_node_language(slack, workspace, routes, settings):
    settings.LANGUAGE_CODE = "it"
    station = ChargingStation.objects.create(charger_id="CP-IT")

    notifications.notify(
        {"what": "faulted", "station": station.pk, "connector": 1, "error_code": "OtherError"}
    )

    assert slack.posted[0]["text"] == (
        ":warning: Guasto: stazione CP-IT, connettore 1 (errore OtherError)."
    )


def test_a_channel_name_instead_of_its_id_is_a_clear_error(db):
    route = SlackChannelRoute(kind=NotificationKind.FAULTS, channel="#ops")

    with pytest.raises(ValidationError) as error:
        route.full_clean()

    assert error.value.message_dict == {
        "channel": ["A Slack channel id looks like C0123ABCD (not the channel's name)."]
    }


def test_the_server_process_listens_only_while_slack_is_enabled(settings):
    receivers = [key for key, *_ in process_serving.receivers]
    assert any(key[0] == "slack-listen" for key in receivers)
    before = live.listeners()
    settings.SLACK_ENABLED = False

    notifications.listen()

    assert live.listeners() == before
