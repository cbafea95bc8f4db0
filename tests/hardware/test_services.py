"""The hardware service supervisor: idle while the feature is off, run while on, restarted after
errors, stopped with the server; one process of a node runs the services.

The supervised service here is a small real class implementing the `HardwareService` protocol
(the thing supervised, not our code replaced). Waits are bounded polls of a condition.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.hardware import services
from apps.hardware.models import ServiceStatus
from apps.nodes import features
from apps.nodes.models import Mode, Role
from apps.nodes.services import set_role, set_switch
from tests.faults.processes import eventually

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 20.0


class Probe:
    """A service that runs until told to stop, and fails its first `failures` runs."""

    name = "probe"
    feature = features.LCD_SCREEN

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.runs = 0
        self.running = threading.Event()
        self.returned = threading.Event()

    def run(self, ctx: services.Context) -> None:
        self.runs += 1
        self.returned.clear()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("device unplugged")
        self.running.set()
        try:
            while not ctx.wait(0.01):
                pass
        finally:
            self.running.clear()
            self.returned.set()


@pytest.fixture
def supervisor(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[services.HardwareService]]:
    """Only the test's services, quick idle checks and restarts, a private lock folder."""
    settings.DATA_DIR = tmp_path
    settings.HARDWARE_SERVICES = True
    settings.NODE_DEV_ROOT = str(tmp_path / "empty-root")
    monkeypatch.setattr(services, "IDLE_CHECK_S", 0.02)
    monkeypatch.setattr(services, "RESTART_MIN_S", 0.01)
    monkeypatch.setattr(services, "RESTART_MAX_S", 0.05)
    supervised: list[services.HardwareService] = []
    monkeypatch.setattr(services, "_factories", [])
    set_role(Role.CONTROL)
    features.invalidate()
    yield supervised
    services.stop_services()
    features.invalidate()


def start(supervised: list, service: services.HardwareService) -> list[str]:
    supervised.append(service)
    services.register(lambda: service)
    return services.start_services()


def status(name: str = "probe") -> ServiceStatus | None:
    return ServiceStatus.objects.filter(name=name).first()


def state_is(state: str, name: str = "probe") -> bool:
    row = status(name)
    return row is not None and row.state == state


def test_it_stays_idle_while_the_feature_is_off_and_starts_when_switched_on(supervisor) -> None:
    probe = Probe()
    assert start(supervisor, probe) == ["probe"]
    # Control role, LCD auto, no I2C bus: not active.
    eventually(lambda: state_is(ServiceStatus.State.IDLE), WITHIN, "the probe recorded idle")
    assert probe.runs == 0
    assert status().feature == features.LCD_SCREEN
    set_switch(features.LCD_SCREEN, Mode.ON)
    assert probe.running.wait(WITHIN)
    eventually(lambda: state_is(ServiceStatus.State.RUNNING), WITHIN, "the probe recorded running")
    assert probe.runs == 1


def test_it_restarts_a_service_that_raises_and_counts_the_restarts(supervisor) -> None:
    set_switch(features.LCD_SCREEN, Mode.ON)
    probe = Probe(failures=2)
    start(supervisor, probe)
    assert probe.running.wait(WITHIN)
    assert probe.runs == 3
    eventually(lambda: state_is(ServiceStatus.State.RUNNING), WITHIN, "running after restarts")
    assert status().restarts == 2


def test_a_failing_run_is_recorded_with_its_error(supervisor, monkeypatch) -> None:
    # Restarts far apart: the failure stays recorded while the test looks at it.
    monkeypatch.setattr(services, "RESTART_MIN_S", 60.0)
    set_switch(features.LCD_SCREEN, Mode.ON)
    start(supervisor, Probe(failures=1))
    eventually(lambda: state_is(ServiceStatus.State.FAILED), WITHIN, "the failure recorded")
    row = status()
    assert row.detail == "RuntimeError: device unplugged"
    assert row.restarts == 1


def test_the_service_returns_when_its_feature_is_switched_off(supervisor) -> None:
    set_switch(features.LCD_SCREEN, Mode.ON)
    probe = Probe()
    start(supervisor, probe)
    assert probe.running.wait(WITHIN)
    set_switch(features.LCD_SCREEN, Mode.OFF)
    assert probe.returned.wait(WITHIN)
    eventually(lambda: state_is(ServiceStatus.State.IDLE), WITHIN, "idle after switched off")
    assert probe.runs == 1


def test_stop_services_stops_every_service(supervisor) -> None:
    set_switch(features.LCD_SCREEN, Mode.ON)
    probe = Probe()
    start(supervisor, probe)
    assert probe.running.wait(WITHIN)
    threads = [t for t in threading.enumerate() if t.name == "hw-probe"]
    assert len(threads) == 1
    services.stop_services()
    assert probe.returned.is_set()
    assert not threads[0].is_alive()
    assert state_is(ServiceStatus.State.STOPPED)


def test_it_starts_each_service_once(supervisor) -> None:
    probe = Probe()
    start(supervisor, probe)
    assert services.start_services() == ["probe"]
    assert len([t for t in threading.enumerate() if t.name == "hw-probe"]) == 1


def test_it_runs_nothing_when_hardware_services_are_off(supervisor, settings) -> None:
    settings.HARDWARE_SERVICES = False
    assert start(supervisor, Probe()) == []
    assert not (Path(settings.DATA_DIR) / "run" / "hardware.lock").exists()


def other_process_takes_the_lock(data_dir: Path) -> bool:
    """Ask a second Python process whether it gets this node's hardware lock."""
    code = (
        "import django; django.setup()\n"
        "from apps.hardware.services import _take_node_lock\n"
        "print(_take_node_lock())\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(data_dir)}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip().splitlines()[-1] == "True"


def test_only_one_process_of_a_node_takes_the_hardware_lock(supervisor, tmp_path: Path) -> None:
    start(supervisor, Probe())
    lock = tmp_path / "run" / "hardware.lock"
    assert lock.read_text() == str(os.getpid())
    assert not other_process_takes_the_lock(tmp_path)
    services.stop_services()
    assert other_process_takes_the_lock(tmp_path)


class Quitter:
    """A service that returns at once although its feature stays on."""

    name = "quitter"
    feature = features.LCD_SCREEN

    def __init__(self) -> None:
        self.runs = 0
        self.ran = threading.Event()

    def run(self, ctx: services.Context) -> None:
        self.runs += 1
        self.ran.set()


def test_a_service_that_returns_at_once_is_not_restarted_in_a_tight_loop(
    supervisor, monkeypatch
) -> None:
    monkeypatch.setattr(services, "RESTART_MIN_S", 60.0)
    set_switch(features.LCD_SCREEN, Mode.ON)
    quitter = Quitter()
    start(supervisor, quitter)
    assert quitter.ran.wait(WITHIN)
    services.stop_services()  # ends the pause at once
    assert quitter.runs == 1
    assert state_is(ServiceStatus.State.STOPPED, "quitter")
