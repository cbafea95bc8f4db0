"""What the chargers app does when a server process ends or is found dead (connected in
ChargersConfig.ready): the stations it held are no longer connected."""

from __future__ import annotations

from typing import Any

from apps.chargers.services import stations_release, stations_release_dead


def release_dead(**kwargs: Any) -> None:
    """The sweep: release the stations of dead server processes."""
    stations_release_dead()


def release_ending(*, process_id: str, **kwargs: Any) -> None:
    """A clean shutdown: release the stations the ending process held."""
    stations_release(process_ids=[process_id])
