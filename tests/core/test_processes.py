"""Server processes: which are dead, the sweep of what they held, a clean end.

Other processes are rows as a process writes them: their pids are real ones (this test's
parent, alive; a child that has exited, dead) on this host, or another host's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import orjson
import pytest

from apps.chargers.models import ChargingStation
from apps.chargers.services import station_connect
from apps.core import processes
from apps.core.models import ServerProcess
from apps.core.timeutil import utcnow
from apps.simulator.models import Simulator

pytestmark = pytest.mark.django_db


def exited_pid() -> int:
    """The pid of a process that has run and exited (reaped: no such process now)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def other(pid: int, *, seen_ago: float = 0.0, host: str = "", pid_start: str | None = None):
    """A row of another server process, on this host unless `host` says otherwise."""
    me = processes.this_process()
    here = not host
    return ServerProcess.objects.create(
        id=os.urandom(16).hex(),
        host=me.host if here else host,
        pid=pid,
        pid_scope=me.pid_scope if here else "elsewhere",
        pid_start=(processes._pid_start(pid) or "") if pid_start is None else pid_start,
        started_at=utcnow() - timedelta(hours=1),
        seen_at=utcnow() - timedelta(seconds=seen_ago),
    )


def held_by(process_id: str, charger_id: str) -> ChargingStation:
    station = ChargingStation.objects.create(charger_id=charger_id)
    return station_connect(
        station=station,
        ocpp_version="ocpp1.6",
        connection_id=f"conn-{charger_id}",
        connected_by=process_id,
    )


def test_it_tells_live_processes_from_dead_ones():
    linux = bool(processes.this_process().pid_scope)
    alive = other(os.getppid())
    stale = other(os.getppid(), seen_ago=processes.STALE_AFTER.total_seconds() + 5)
    elsewhere = other(exited_pid(), host="another-host")  # its pid means nothing here
    ids = {alive.id, stale.id, elsewhere.id, "gone-" + "0" * 27}
    expected = {stale.id, "gone-" + "0" * 27}
    if linux:
        exited = other(exited_pid())
        reused = other(os.getppid(), pid_start="1")  # the pid now names a later process
        ids |= {exited.id, reused.id}
        expected |= {exited.id, reused.id}
    assert processes.processes_dead(process_ids=ids | {""}) == expected


def test_this_process_is_never_dead_to_itself():
    me = processes.process_ensure_registered()
    ServerProcess.objects.filter(pk=me).update(seen_at=utcnow() - timedelta(days=1))
    assert processes.processes_dead(process_ids=[me]) == set()
    ServerProcess.objects.filter(pk=me).delete()
    assert processes.processes_dead(process_ids=[me]) == set()


def test_the_sweep_releases_what_dead_processes_held_and_forgets_them(
    watching, sent, django_capture_on_commit_callbacks
):
    alive = other(os.getppid())
    dead = other(os.getppid(), seen_ago=processes.STALE_AFTER.total_seconds() + 5)
    kept = held_by(alive.id, "CP-ALIVE")
    released = held_by(dead.id, "CP-DEAD")
    unowned = held_by("", "CP-UNOWNED")  # no holder recorded: not the sweep's to judge
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert processes.processes_sweep() == [dead.id]

    states = dict(ChargingStation.objects.values_list("charger_id", "is_connected"))
    assert states == {"CP-ALIVE": True, "CP-DEAD": False, "CP-UNOWNED": True}
    released.refresh_from_db()
    assert released.disconnected_at is not None
    assert set(ServerProcess.objects.values_list("pk", flat=True)) == {alive.id}
    events = [orjson.loads(message["text"]) for _group, message in sent]
    assert events == [
        {
            "kind": "station",
            "data": {
                "station": released.pk,
                "online": False,
                "connection": "conn-CP-DEAD",
                "at": released.disconnected_at.isoformat(),
            },
        }
    ]
    assert kept.pk != unowned.pk


def test_the_sweep_releases_holders_without_a_row():
    """A process inserts its row before it holds anything: a holder without one has ended."""
    held_by("ended-" + "0" * 26, "CP-ORPHAN")
    processes.processes_sweep()
    assert not ChargingStation.objects.get(charger_id="CP-ORPHAN").is_connected


def test_the_sweep_stops_the_simulators_dead_processes_ran():
    alive = other(os.getppid())
    dead = other(os.getppid(), seen_ago=processes.STALE_AFTER.total_seconds() + 5)
    counters = {"chargers": 1, "connected": 1, "booted": 1, "sessions_started": 3}
    running = {"status": Simulator.Status.RUNNING, "counters": counters}
    Simulator.objects.create(name="on-alive", run_by=alive.id, **running)
    Simulator.objects.create(name="on-dead", run_by=dead.id, **running)

    processes.processes_sweep()

    on_alive = Simulator.objects.get(name="on-alive")
    on_dead = Simulator.objects.get(name="on-dead")
    assert on_alive.status == Simulator.Status.RUNNING
    assert on_dead.status == Simulator.Status.STOPPED
    assert on_dead.stopped_at is not None
    assert on_dead.counters == {**counters, "connected": 0, "booted": 0}


def test_a_clean_end_releases_this_process_s_holds_and_its_row(monkeypatch):
    me = processes.process_ensure_registered()
    mine = held_by(me, "CP-MINE")
    theirs = held_by(other(os.getppid()).id, "CP-THEIRS")
    Simulator.objects.create(name="mine", run_by=me, status=Simulator.Status.RUNNING)
    # The end stops the beat (none runs in this test): leave the module as it was after.
    monkeypatch.setattr(processes, "_stopping", processes.threading.Event())

    processes.process_end()

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert not mine.is_connected and theirs.is_connected
    assert Simulator.objects.get(name="mine").status == Simulator.Status.STOPPED
    assert not ServerProcess.objects.filter(pk=me).exists()
    # Holding again registers again.
    assert processes.process_ensure_registered() == me
    assert ServerProcess.objects.filter(pk=me).exists()


def test_a_beat_registers_again_a_process_taken_for_dead():
    me = processes.process_ensure_registered()
    ServerProcess.objects.filter(pk=me).delete()
    processes.process_beat()
    assert ServerProcess.objects.filter(pk=me).exists()
