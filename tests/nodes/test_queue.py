"""The Celery Queue feature: without a worker the server runs the periodic jobs and the tasks
itself (apps/nodes/queue.py); start.sh's side is in tests/core/test_start_stop.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import current_app

from apps.chargers.services import station_get_or_register
from apps.core.timeutil import utcnow
from apps.nodes import queue
from apps.nodes.services import set_switch
from apps.reservations.models import Reservation, ReservationStatus
from apps.reservations.tasks import expire_reservations

pytestmark = pytest.mark.django_db(transaction=True)


def overdue_reservation(reservation_id: int = 7001) -> Reservation:
    station = station_get_or_register(charger_id=f"QUEUE-{reservation_id}")
    return Reservation.objects.create(
        station=station,
        reservation_id=reservation_id,
        id_tag="DRIVER",
        expires_at=utcnow() - timedelta(minutes=1),
        status=ReservationStatus.ACCEPTED,
    )


def status_of(reservation: Reservation) -> str:
    return Reservation.objects.values_list("status", flat=True).get(pk=reservation.pk)


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def no_local_beat(settings, tmp_path) -> Iterator[None]:
    """Leave no beat thread, lock or eager mode behind (the test process is no server)."""
    settings.DATA_DIR = tmp_path
    eager = current_app.conf.task_always_eager
    yield
    queue.local_beat_stop()
    current_app.conf.task_always_eager = eager


class TestQueueRunning:
    def test_it_follows_the_feature_unless_the_setting_says(self, settings) -> None:
        settings.CELERY_QUEUE = "auto"
        set_switch("celery-queue", "off")
        assert not queue.queue_running()
        set_switch("celery-queue", "on")
        assert queue.queue_running()
        settings.CELERY_QUEUE = "off"
        assert not queue.queue_running()
        settings.CELERY_QUEUE = "on"
        set_switch("celery-queue", "off")
        assert queue.queue_running()

    def test_a_terminal_has_no_queue_by_default(self, settings) -> None:
        settings.CELERY_QUEUE = "auto"
        assert queue.queue_running() is False  # the test node is a Terminal


class TestLocalBeat:
    def test_every_periodic_job_of_the_beat_schedule_is_run(self, settings) -> None:
        names = {job.name for job in queue.local_jobs()}
        assert names == set(settings.CELERY_BEAT_SCHEDULE)

    def test_it_runs_each_job_at_once_then_every_interval(self) -> None:
        reservation = overdue_reservation()
        now = [1000.0]
        beat = queue.LocalBeat(
            [
                queue.Job("expire", "apps.reservations.tasks.expire_reservations", 60.0),
                queue.Job("sweep", "apps.core.tasks.sweep_server_processes", 10.0),
            ],
            clock=lambda: now[0],
        )
        assert beat.run_due() == ["expire", "sweep"]
        assert status_of(reservation) == ReservationStatus.EXPIRED
        now[0] += 10
        assert beat.run_due() == ["sweep"]
        now[0] += 50
        assert beat.run_due() == ["expire", "sweep"]
        assert beat.run_due() == []

    def test_a_failing_job_is_logged_and_the_others_still_run(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        reservation = overdue_reservation()
        beat = queue.LocalBeat(
            [
                queue.Job("broken", "apps.nowhere.tasks.nothing", 60.0),
                queue.Job("expire", "apps.reservations.tasks.expire_reservations", 60.0),
            ]
        )
        with caplog.at_level(logging.WARNING, logger="apps.nodes.queue"):
            assert beat.run_due() == ["broken", "expire"]
        assert "local beat: job broken failed" in caplog.text
        assert status_of(reservation) == ReservationStatus.EXPIRED


class TestServerWithoutQueue:
    def test_a_reservation_expires_on_a_node_without_celery(
        self, settings, no_local_beat: None
    ) -> None:
        settings.CELERY_QUEUE = "off"
        reservation = overdue_reservation()
        assert queue.local_beat_start() is True
        assert wait_for(lambda: status_of(reservation) == ReservationStatus.EXPIRED)
        assert (settings.DATA_DIR / "run" / "local-beat.lock").exists()

    def test_enqueued_tasks_run_where_they_are_sent(self, settings, no_local_beat: None) -> None:
        settings.CELERY_QUEUE = "off"
        queue.local_beat_start()
        reservation = overdue_reservation(7002)
        expire_reservations.delay()  # no worker: it runs now, in this process
        assert status_of(reservation) == ReservationStatus.EXPIRED

    def test_with_a_queue_the_server_leaves_the_jobs_to_celery(
        self, settings, no_local_beat: None
    ) -> None:
        settings.CELERY_QUEUE = "on"
        current_app.conf.task_always_eager = False
        assert queue.local_beat_start() is False
        assert current_app.conf.task_always_eager is False
        assert queue._thread is None
