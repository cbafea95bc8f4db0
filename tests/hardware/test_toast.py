"""GUI toasts: live events in, notify-send out (a recording stand-in on PATH, DISPLAY set)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.core import live
from apps.core.events import CardScanned, ConnectorStatusChanged
from apps.hardware.services import supervise
from apps.hardware.toast import (
    Toast,
    ToastLimiter,
    ToastService,
    check_toast_settings,
    notify_command,
)
from apps.nodes.features import GUI_TOAST, feature_active
from apps.nodes.services import set_switch
from apps.security.services import security_event_record
from apps.transactions.services import transaction_start, transaction_stop
from tests.ocpp.charger import connect_v16

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


class NotifySend:
    """A stand-in notify-send on PATH that records its arguments, one JSON line a call."""

    def __init__(self, folder: Path, exit_code: int = 0) -> None:
        self.log = folder / "notify-send.log"
        self.program = folder / "bin" / "notify-send"
        self.program.parent.mkdir(parents=True)
        self.program.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            f"with open({str(self.log)!r}, 'a') as log:\n"
            "    log.write(json.dumps({'args': sys.argv[1:],"
            " 'display': os.environ.get('DISPLAY')}) + '\\n')\n"
            f"sys.exit({exit_code})\n"
        )
        self.program.chmod(0o755)

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def toasts(self) -> list[tuple[str, str, str]]:
        """(urgency, title, body) of each call."""
        shown = []
        for entry in self.calls():
            args = entry["args"]
            urgency = next(a.split("=", 1)[1] for a in args if a.startswith("--urgency="))
            title, body = args[args.index("--") + 1 :]
            shown.append((urgency, title, body))
        return shown


@pytest.fixture
def notify(tmp_path, monkeypatch) -> NotifySend:
    stand_in = NotifySend(tmp_path)
    monkeypatch.setenv("PATH", f"{stand_in.program.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return stand_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestCommand:
    def test_it_is_an_argument_list_that_keeps_text_as_text(self):
        command = notify_command(Toast("-u low", "<b>CP</b> & co", "critical"))

        assert command == [
            "notify-send",
            "--app-name=Constellation",
            "--urgency=critical",
            "--",
            "-u low",
            "&lt;b&gt;CP&lt;/b&gt; &amp; co",
        ]


class TestLimiter:
    def test_it_holds_back_beyond_the_limit_and_summarises_when_the_minute_allows(self):
        clock = Clock()
        limiter = ToastLimiter(per_minute=2, clock=clock)
        fault = Toast("t", "b", "critical")

        assert [limiter.admit(fault) for _ in range(5)] == [True, True, False, False, False]
        assert limiter.summary() is None  # the minute is full
        clock.now += 59.9
        assert limiter.summary() is None
        clock.now += 0.1

        summary = limiter.summary()
        assert summary == Toast("Constellation", "…and 3 more events", "critical")
        assert limiter.summary() is None
        # The summary took a place: one more fits, then the minute is full again.
        assert [limiter.admit(Toast("t", "b")) for _ in range(2)] == [True, False]


@pytest.mark.django_db(transaction=True)
class TestService:
    """The service in its supervisor's thread, fed by `apps.core.live.publish`."""

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def service(self, notify, clock, settings):
        settings.LANGUAGE_CODE = "en"
        set_switch(GUI_TOAST, "on")
        service = ToastService(per_minute=3, clock=clock, poll_seconds=0.02)
        stop = threading.Event()
        thread = threading.Thread(target=supervise, args=(service, stop), daemon=True)
        thread.start()
        wait_until(lambda: live.listeners() > 0)
        yield service
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
        assert live.listeners() == 0

    @pytest.fixture
    def station(self) -> ChargingStation:
        return ChargingStation.objects.create(
            charger_id="CP-T1", registration_status=RegistrationStatus.ACCEPTED
        )

    def faulted(self, station: ChargingStation, connector: int = 2) -> ConnectorStatusChanged:
        return ConnectorStatusChanged(
            station=station.pk,
            connector=connector,
            status="Faulted",
            error_code="GroundFailure",
            at=AT,
        )

    def test_a_faulted_connector_is_a_critical_toast(self, service, notify, station):
        live.publish(self.faulted(station))
        live.publish(self.faulted(station, connector=0))

        wait_until(lambda: len(notify.calls()) == 2)
        assert notify.toasts() == [
            ("critical", "Charger faulted", "CP-T1 connector 2: GroundFailure"),
            ("critical", "Charger faulted", "CP-T1: GroundFailure"),
        ]
        assert notify.calls()[0]["args"][0] == "--app-name=Constellation"

    def test_other_statuses_and_accepted_cards_make_no_toast(self, service, notify, station):
        live.publish(
            ConnectorStatusChanged(
                station=station.pk, connector=1, status="Charging", error_code="NoError", at=AT
            )
        )
        live.publish(self.card("Accepted"))
        live.publish(self.card("Blocked"))

        wait_until(lambda: service.handled == 1)
        assert live.flush()
        assert [title for _, title, _ in notify.toasts()] == ["Card refused"]

    def card(self, result: str) -> CardScanned:
        return CardScanned(
            scan=1,
            uid="04A1B2C3",
            result=result,
            action="none",
            station="",
            detail="",
            at=AT,
        )

    def test_a_refused_card_is_a_toast(self, service, notify):
        live.publish(self.card("Blocked"))

        wait_until(lambda: len(notify.calls()) == 1)
        assert notify.toasts() == [("normal", "Card refused", "Card 04A1B2C3: Blocked")]

    def test_sessions_started_and_stopped_by_the_real_services(self, service, notify, station):
        tx, _ = transaction_start(
            station_id=station.pk,
            connector_id=1,
            id_tag="TAG-7",
            meter_start_wh=1000,
            started_at=AT,
            free_charging=True,
        )
        transaction_stop(
            station_id=station.pk,
            transaction_id=tx.transaction_id,
            meter_stop_wh=13_350,
            stopped_at=AT,
            reason="EVDisconnected",
        )

        wait_until(lambda: len(notify.calls()) == 2)
        assert notify.toasts() == [
            ("normal", "Session started", "CP-T1 connector 1, card TAG-7"),
            ("normal", "Session stopped", "CP-T1: 12.35 kWh (EVDisconnected)"),
        ]

    def test_a_security_event_is_a_critical_toast(self, service, notify, station):
        security_event_record(
            source="station",
            event_type="InvalidFirmwareSignature",
            charger_id="CP-T1",
            station_id=station.pk,
        )

        wait_until(lambda: len(notify.calls()) == 1)
        assert notify.toasts() == [
            ("critical", "Security event", "CP-T1: InvalidFirmwareSignature")
        ]

    def test_it_speaks_the_node_language(self, service, notify, station, settings):
        settings.LANGUAGE_CODE = "it"
        live.publish(self.faulted(station))

        wait_until(lambda: len(notify.calls()) == 1)
        assert notify.toasts() == [
            ("critical", "Stazione in guasto", "CP-T1 connettore 2: GroundFailure")
        ]

    def test_the_rate_limit_holds_and_the_rest_is_one_summary(
        self, service, notify, station, clock
    ):
        for _ in range(7):
            live.publish(self.faulted(station))

        wait_until(lambda: service.handled == 7)
        assert len(notify.calls()) == 3

        clock.now += 60
        wait_until(lambda: len(notify.calls()) == 4)
        assert notify.toasts()[-1] == ("critical", "Constellation", "…and 4 more events")

    def test_without_a_desktop_nothing_runs(self, service, notify, station, monkeypatch):
        monkeypatch.delenv("DISPLAY")
        live.publish(self.faulted(station))

        wait_until(lambda: service.handled == 1)
        assert notify.calls() == []
        assert service.shown == 0

    def test_a_failing_notify_send_does_not_stop_the_service(
        self, service, notify, station, tmp_path, monkeypatch
    ):
        failing = NotifySend(tmp_path / "failing", exit_code=1)
        monkeypatch.setenv("PATH", f"{failing.program.parent}{os.pathsep}{os.environ['PATH']}")
        live.publish(self.faulted(station))
        live.publish(self.card("Blocked"))

        wait_until(lambda: service.handled == 2)
        assert len(failing.calls()) == 2
        assert service.shown == 0 and notify.calls() == []


@pytest.mark.django_db(transaction=True)
def test_the_feature_is_off_where_there_is_no_desktop(notify, monkeypatch):
    monkeypatch.delenv("DISPLAY")

    set_switch(GUI_TOAST, "auto")

    assert not feature_active(GUI_TOAST)


@pytest.mark.django_db(transaction=True)
def test_the_feature_is_on_for_a_terminal_with_a_desktop(notify):
    set_switch(GUI_TOAST, "auto")

    assert feature_active(GUI_TOAST)


@pytest.mark.django_db(transaction=True)
async def test_a_charger_reporting_faulted_over_a_socket_is_a_toast(asgi_server, notify, settings):

    settings.OCPP_UNKNOWN_STATIONS = "accept"
    settings.LANGUAGE_CODE = "en"
    await sync_to_async(set_switch)(GUI_TOAST, "on")
    service = ToastService(poll_seconds=0.02)
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=(service, stop), daemon=True)
    thread.start()
    try:
        await sync_to_async(wait_until)(lambda: live.listeners() > 0)
        async with connect_v16(asgi_server.ws_url, "CP-SOCKET-1") as cp:
            await cp.call(
                call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="Acme")
            )
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code="HighTemperature", status="Faulted"
                )
            )
            await sync_to_async(wait_until)(lambda: len(notify.calls()) == 1)
    finally:
        stop.set()
        await sync_to_async(thread.join)(10)

    assert notify.toasts() == [
        ("critical", "Charger faulted", "CP-SOCKET-1 connector 1: HighTemperature")
    ]
    assert notify.calls()[0]["display"] == ":0"


def test_a_rate_limit_that_shows_nothing_is_a_configuration_error(settings):
    assert check_toast_settings() == []
    settings.TOAST_PER_MINUTE = 0

    assert [error.id for error in check_toast_settings()] == ["hardware.E111"]
