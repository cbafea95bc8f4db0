"""Start and stop simulators, and keep their rows up to date."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.chargers.services import station_get_or_register, station_set_registration
from apps.core.processes import process_ensure_registered, processes_dead
from apps.core.timeutil import utcnow
from apps.rfid.models import IdTag
from apps.security.passwords import password_generate, password_matches
from apps.security.services import station_password_set
from apps.simulator.fleet import FleetConfig
from apps.simulator.models import SimulatedStation, Simulator
from apps.simulator.runner import AlreadyRunning, runner
from apps.simulator.selectors import simulator_fleet_config, simulator_target_url

logger = logging.getLogger(__name__)

# A running simulator whose runner has not reported for this long is taken as dead (its
# server process went away), so it may be started again.
STALE_AFTER = timedelta(seconds=30)


class SimulatorError(ValueError):
    """The simulator cannot be started or stopped as asked."""


class StationsNotOurs(SimulatorError):
    """Registering would change stations that the simulator did not create."""


# How many of the refused charger ids an error message names.
NAMED_IDS = 3


def _name_ids(ids: list[str]) -> str:
    named = ", ".join(ids[:NAMED_IDS])
    return named + (f" (+{len(ids) - NAMED_IDS})" if len(ids) > NAMED_IDS else "")


def stations_register(
    *,
    charger_ids: list[str],
    id_tags: list[str],
    label: str,
    password: str = "",
    simulator: Simulator | None = None,
) -> int:
    """Record simulated chargers as accepted stations and their id tags as valid ones.

    For simulators aimed at this server, so that trying the system needs no approval. With
    a password, it becomes each station's password (security profile 1 at least), so the
    chargers connect while OCPP_ALLOW_UNSECURED is off. `simulator` is who registers (None:
    manage.py simulate); it creates the stations that do not exist and changes only those it
    created before, and not while one of them is connected (its password would lock out and
    its connection be taken over by another). Raise StationsNotOurs, changing nothing, when
    a station exists that it did not create, or one of its own with another password is
    connected now. Stations an operator has rejected stay rejected; existing id tags are left
    as they are. Return how many stations are accepted.
    """
    with transaction.atomic():
        existing = {
            station.charger_id: station
            # Only the stations' rows: PostgreSQL cannot lock the outer join's nullable side.
            for station in ChargingStation.objects.select_for_update(of=("self",))
            .filter(charger_id__in=charger_ids)
            .select_related("simulated_by")
        }
        foreign = [
            charger_id
            for charger_id, station in existing.items()
            if not _created_by(station, simulator)
        ]
        if foreign:
            raise StationsNotOurs(
                _(
                    "Not registered: %(ids)s exist already and were not created by this "
                    "simulator; registering would change their password and take over their "
                    "connection. Choose another prefix, or delete those stations first."
                )
                % {"ids": _name_ids(sorted(foreign))}
            )
        live = sorted(
            charger_id
            for charger_id, station in existing.items()
            if password
            and station.is_connected
            and not (station.password_hash and password_matches(password, station.password_hash))
        )
        if live:
            raise StationsNotOurs(
                _(
                    "Not registered: %(ids)s are connected now with another password; stop "
                    "what runs them first."
                )
                % {"ids": _name_ids(live)}
            )
        accepted = 0
        for charger_id in charger_ids:
            station = existing.get(charger_id)
            if station is None:
                station = station_get_or_register(charger_id=charger_id)
                SimulatedStation.objects.create(station=station, simulator=simulator)
            if station.registration_status == RegistrationStatus.PENDING:
                station_set_registration(station=station, status=RegistrationStatus.ACCEPTED)
            if password and not (
                station.password_hash and password_matches(password, station.password_hash)
            ):
                station_password_set(station=station, password=password)
            accepted += station.registration_status == RegistrationStatus.ACCEPTED
        IdTag.objects.bulk_create(
            [IdTag(id_tag=tag, label=label[:100]) for tag in id_tags], ignore_conflicts=True
        )
    return accepted


def _created_by(station: ChargingStation, simulator: Simulator | None) -> bool:
    try:
        record = station.simulated_by
    except SimulatedStation.DoesNotExist:
        return False
    return record.simulator_id == (simulator.pk if simulator is not None else None)


def simulator_start(*, simulator: Simulator, request: HttpRequest | None = None) -> Simulator:
    """Start the simulator's chargers in this server process.

    Raise SimulatorError when it runs already, here or (by a recent report) in another
    server process.
    """
    url = simulator_target_url(simulator=simulator, request=request)
    now = utcnow()
    try:
        simulator, config = _simulator_mark_started(simulator=simulator, url=url, now=now)
    except StationsNotOurs as exc:
        # Refused before anything ran: the row says why, in the list and on its page.
        Simulator.objects.filter(pk=simulator.pk).update(
            status=Simulator.Status.ERROR, last_error=str(exc), stopped_at=now
        )
        logger.warning("simulator %s not started: %s", simulator, exc)
        raise
    try:
        runner.start(simulator.pk, config)
    except AlreadyRunning as exc:
        raise SimulatorError(str(exc)) from exc
    except Exception as exc:
        logger.exception("%s: could not start", simulator)
        simulator_finish(simulator_id=simulator.pk, counters={}, error=repr(exc))
        raise SimulatorError(f"{simulator} could not start: {exc}") from exc
    logger.info("simulator %s started: %s chargers -> %s", simulator, simulator.charger_count, url)
    return simulator


def _simulator_mark_started(
    *, simulator: Simulator, url: str, now: datetime
) -> tuple[Simulator, FleetConfig]:
    """Register the simulator's stations when it should, and mark its row running."""
    with transaction.atomic():
        simulator = Simulator.objects.select_for_update().get(pk=simulator.pk)
        recent = simulator.reported_at is not None and now - simulator.reported_at < STALE_AFTER
        if runner.is_running(simulator.pk) or (
            simulator.status == Simulator.Status.RUNNING and recent
        ):
            raise SimulatorError(f"{simulator} is already running")
        registering = simulator.register_stations and not simulator.url
        if registering and not simulator.password:
            # The stations get this password; the simulator keeps it to send it.
            simulator.password = password_generate()
        config = simulator_fleet_config(simulator=simulator, url=url)
        if registering:
            stations_register(
                charger_ids=simulator.charger_ids,
                id_tags=config.id_tags,
                label=f"Simulator {simulator.name}",
                password=simulator.password,
                simulator=simulator,
            )
        simulator.status = Simulator.Status.RUNNING
        simulator.run_by = process_ensure_registered()
        simulator.started_at = now
        simulator.stopped_at = None
        simulator.reported_at = now
        simulator.last_error = ""
        simulator.counters = {}
        simulator.save(
            update_fields=[
                "password",
                "status",
                "run_by",
                "started_at",
                "stopped_at",
                "reported_at",
                "last_error",
                "counters",
            ]
        )
    return simulator, config


def simulator_stop(*, simulator: Simulator) -> Simulator:
    """Stop the simulator: at once if this process runs it, else at its runner's next report.

    The chargers end their sessions and close their connections first (a few seconds at
    most), then the row holds the final counters.
    """
    Simulator.objects.filter(pk=simulator.pk, status=Simulator.Status.RUNNING).update(
        status=Simulator.Status.STOPPED, stopped_at=utcnow()
    )
    runner.stop(simulator.pk)
    simulator.refresh_from_db()
    return simulator


def simulator_report(*, simulator_id: int, counters: dict[str, Any]) -> bool:
    """Store a running simulator's counters; return False when it should stop."""
    updated = Simulator.objects.filter(pk=simulator_id, status=Simulator.Status.RUNNING).update(
        counters=counters, reported_at=utcnow(), last_error=counters.get("last_error", "")
    )
    return bool(updated)


def simulator_finish(*, simulator_id: int, counters: dict[str, Any], error: str = "") -> None:
    """Record that the simulator's chargers have stopped, with their final counters."""
    now = utcnow()
    fields: dict[str, Any] = {
        "status": Simulator.Status.ERROR if error else Simulator.Status.STOPPED,
        "counters": counters,
        "reported_at": now,
        "last_error": error or counters.get("last_error", ""),
    }
    with transaction.atomic():
        simulator = Simulator.objects.select_for_update().filter(pk=simulator_id).first()
        if simulator is None:
            return
        if simulator.stopped_at is None or simulator.status == Simulator.Status.RUNNING:
            fields["stopped_at"] = now
        Simulator.objects.filter(pk=simulator_id).update(**fields)


def simulators_release(*, process_ids: Iterable[str]) -> int:
    """Stop the rows of simulators run by server processes `process_ids` (dead or ending).

    Their fleets ran inside those processes and are gone with them: no charger of theirs is
    connected. Return how many rows were stopped.
    """
    ids = [pid for pid in process_ids if pid]
    if not ids:
        return 0
    now = utcnow()
    stopped = 0
    with transaction.atomic():
        rows = Simulator.objects.select_for_update().filter(
            status=Simulator.Status.RUNNING, run_by__in=ids
        )
        for simulator in rows:
            simulator.status = Simulator.Status.STOPPED
            simulator.stopped_at = now
            # What was connected is not any more; the totals stay.
            simulator.counters = {**(simulator.counters or {}), "connected": 0, "booted": 0}
            simulator.last_error = "its server process ended"
            simulator.save(update_fields=["status", "stopped_at", "counters", "last_error"])
            logger.info("simulator %s stopped: its server process is gone", simulator)
            stopped += 1
    return stopped


def simulators_release_dead() -> int:
    """Stop the rows of running simulators whose server process is dead (the sweep's part)."""
    holders = set(
        Simulator.objects.filter(status=Simulator.Status.RUNNING)
        .exclude(run_by="")
        .values_list("run_by", flat=True)
        .distinct()
    )
    return simulators_release(process_ids=processes_dead(process_ids=holders))
