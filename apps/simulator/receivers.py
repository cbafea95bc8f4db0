"""What the simulator app does when a server process ends or is found dead (connected in
SimulatorConfig.ready): the simulators it ran are stopped."""

from __future__ import annotations

from typing import Any

from apps.simulator.services import simulators_release, simulators_release_dead


def release_dead(**kwargs: Any) -> None:
    """The sweep: stop the rows of simulators that dead server processes ran."""
    simulators_release_dead()


def release_ending(*, process_id: str, **kwargs: Any) -> None:
    """A clean shutdown: stop the rows of the simulators the ending process ran."""
    simulators_release(process_ids=[process_id])
