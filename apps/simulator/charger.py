"""A simulated charge point: its connection, its behaviour and its sessions, for any version.

One `SimulatedCharger` is one asyncio task (`run()`); while connected, the `ocpp`
library's ChargePoint reads the socket in a second one. The behaviour loop sleeps until the
next thing it has to do (heartbeat, meter sample, end of a session) or until an answer to a
CSMS command asks for follow-up work, so an idle charger costs a sleeping coroutine.

Where the rest is: the plain state (configuration, connectors, sessions) in `state.py`;
the version-specific messages and answers in `v16*.py` and `v2*.py` (the protocol objects,
see `protocol.py`), which translate the state's OCPP 1.6 vocabulary; firmware and
diagnostics transfers in `transfers.py`.

Over 400 lines on purpose: one state machine, whose connection loop, behaviour loop, sessions
and command decisions all read and change the same private state (the job queue, the wake-up
event, the connectors), so cutting it further would only spread that state over modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response

from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.simulator import keystore
from apps.simulator.certificates import CertificateStore
from apps.simulator.curve import Meter, Reading, curve_for_session
from apps.simulator.state import (
    SCRIPTED,
    ChargerConfig,
    Connector,
    Reservation,
    Session,
    basic_auth_header,
    charger_url,
    id_tag_for,
    subprotocol_for,
)
from apps.simulator.stats import Stats
from apps.simulator.transfers import FirmwareUpdate, LogUpload

if TYPE_CHECKING:
    from apps.simulator.protocol import Job, SimulatorProtocol

logger = logging.getLogger(__name__)

# A charger that cannot get an answer to BootNotification tries again after this long.
BOOT_RETRY_ON_ERROR_S = 10.0


class Reboot(Exception):
    """Leave the connection and boot again with `reason` (2.x BootReason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SimulatedCharger:
    def __init__(self, config: ChargerConfig, stats: Stats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else Stats(chargers=1)
        self.subprotocol = subprotocol_for(config.version)
        self.version = self.subprotocol.removeprefix("ocpp")
        self.v16 = self.version == "1.6"
        self.url = charger_url(config.url, config.charger_id)
        self.rng = random.Random(config.seed if config.seed is not None else config.charger_id)
        self.serial_number = f"SN-{zlib.crc32(config.charger_id.encode()):08X}"
        self.settings = keystore.KeyStore(
            v16=self.v16,
            evses=config.connectors,
            initial={
                keystore.METER_INTERVAL: str(max(1, round(config.meter_interval))),
                keystore.PASSWORD: config.password,
            },
        )
        if not self.v16:
            self.settings.set_live(("SecurityCtrlr", None, "Identity"), config.charger_id)
            power = round(config.max_current_a * 230 * config.phases)
            for evse in range(1, config.connectors + 1):
                self.settings.set_live(("EVSE", evse, "Power"), str(power))
                self.settings.set_live(("EVSE", evse, "SupplyPhases"), str(config.phases))
        self.meter_interval = config.meter_interval
        self.session_duration = (
            config.session_duration
            if config.session_duration is not None
            else max(1.0, 6 * config.meter_interval)
        )
        self.connectors = {
            n: Connector(
                n,
                Meter(
                    energy_wh=float(self.rng.randint(100_000, 5_000_000)),
                    phases=config.phases,
                    rng=self.rng,
                ),
            )
            for n in range(1, config.connectors + 1)
        }
        self.station_operative = True
        self.firmware_version = config.firmware_version
        self.firmware = FirmwareUpdate(self)
        self.upload = LogUpload(self)
        self.certificates = CertificateStore(
            charger_id=config.charger_id,
            v16=self.v16,
            organization=config.organization,
            directory=config.state_dir,
        )
        self.local_list_version = 0
        # The running cost of each session as the CSMS last sent it (CostUpdated, OCPP 2.x).
        self.running_costs: dict[str, float] = {}
        self.local_list: dict[str, dict[str, Any]] = {}
        self.events: deque[str] = deque(maxlen=20)
        self.protocol: SimulatorProtocol | None = None
        self.accepted = False
        self.boot_count = 0
        self._jobs: deque[Job] = deque()
        self._wake = asyncio.Event()
        self._online = asyncio.Event()
        self._next_boot = asyncio.Event()
        self._stopping = False
        self._boot_reason = "PowerUp"
        self._reconnect_now = False
        self._reset_when_idle: tuple[str, str] | None = None
        self._heartbeat_at = 0.0
        self._background: set[asyncio.Task] = set()

    @property
    def charger_id(self) -> str:
        return self.config.charger_id

    @property
    def scripted(self) -> bool:
        return self.config.mode == SCRIPTED

    def __repr__(self) -> str:
        return f"<SimulatedCharger {self.charger_id} OCPP {self.version}>"

    # --- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the charger to end its sessions, close its connection and return from run()."""
        self._stopping = True
        self._wake.set()

    def submit(self, job: Job) -> None:
        """Queue work for the behaviour loop (runs in order, once booted)."""
        self._jobs.append(job)
        self._wake.set()

    def note(self, text: str) -> None:
        self.events.append(f"{format_ocpp_datetime(utcnow())} {text}")

    def error(self, message: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{self.charger_id}: {message}"
        self.note(f"error: {message}")
        logger.warning("%s: %s", self.charger_id, message)

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task:
        """Run `coro` in the background until it ends or run() returns."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, or until there is work (a job, a stop request)."""
        if seconds <= 0 or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    # --- connection ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve and reconnect with backoff until stop() is called."""
        try:
            await self._sleep(self.config.start_delay)
            failures = 0
            while not self._stopping:
                boots = self.boot_count
                try:
                    await self._connection()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.error(_describe(exc))
                if self._stopping:
                    break
                self._wake.clear()
                if self._reconnect_now:
                    # Rebooting takes a while; the CSMS meanwhile sees the old socket go.
                    self._reconnect_now = False
                    failures = 0
                    await self._sleep(self.config.reboot_s)
                    continue
                failures = 0 if self.boot_count > boots else failures + 1
                await self._sleep(self._backoff(failures))
        finally:
            for task in list(self._background):
                task.cancel()

    def _backoff(self, failures: int) -> float:
        delay = self.config.reconnect_min_s * 2 ** min(failures, 16)
        return min(self.config.reconnect_max_s, delay) * self.rng.uniform(0.5, 1.0)

    async def _connection(self) -> None:
        from apps.simulator.protocol import protocol_class

        headers = {}
        password = self.settings.get(keystore.PASSWORD)
        if password:
            headers["Authorization"] = basic_auth_header(self.charger_id, password)
        ping = self.settings.get_int(keystore.PING_INTERVAL)
        async with websockets.connect(
            self.url,
            subprotocols=[self.subprotocol],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=self.config.open_timeout,
            ping_interval=ping or None,
            close_timeout=5,
            max_size=2**20,
        ) as ws:
            if ws.subprotocol != self.subprotocol:
                # Some CSMSs (and this one before it answered refusals at the handshake)
                # accept without a subprotocol, then close with the reason: read it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await ws.recv()
                raise ConnectionError(
                    f"the CSMS did not accept {self.subprotocol} (chose {ws.subprotocol})"
                )
            self.stats.connected += 1
            self.stats.connections += 1
            self.note(f"connected to {self.url}")
            protocol = protocol_class(self.version)(self, ws)
            self.protocol = protocol
            behaviour = asyncio.create_task(self._behave(protocol, ws))
            try:
                await protocol.start()
            except ConnectionClosed as exc:
                closed_by_us = behaviour.done()
                code = exc.rcvd.code if exc.rcvd is not None else None
                if not closed_by_us and code not in (1000, 1001):
                    reason = exc.rcvd.reason if exc.rcvd is not None else "no close frame"
                    self.error(f"connection closed by the CSMS ({code}: {reason})")
            finally:
                self.protocol = None
                self._online.clear()
                self.stats.connected -= 1
                if self.accepted:
                    self.accepted = False
                    self.stats.booted -= 1
                if not behaviour.done():
                    behaviour.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await behaviour

    async def _behave(self, protocol: SimulatorProtocol, ws: Any) -> None:
        try:
            await self._serve(protocol)
        except Reboot as reboot:
            self._boot_reason = reboot.reason
            self._reconnect_now = True
            self.note(f"rebooting ({reboot.reason})")
        except ConnectionClosed:
            return  # the reader sees it too, and reports it
        except Exception as exc:
            logger.exception("%s: behaviour failed", self.charger_id)
            self.error(f"{type(exc).__name__}: {exc}")
        await ws.close()

    # --- behaviour -----------------------------------------------------------------------

    async def _serve(self, protocol: SimulatorProtocol) -> None:
        await self._boot(protocol)
        if self._stopping:
            return
        if self.v16:
            await protocol.status(0, "Available" if self.station_operative else "Unavailable")
        # Spread the first sessions of a fleet, but start soon after a boot.
        spread = min(self._pause(), 2 * self.config.meter_interval)
        for connector in self.connectors.values():
            connector.next_session_at = time.monotonic() + self.rng.uniform(0, spread)
            await self.report_status(protocol, connector, force=True)
        self._online.set()
        if self.config.request_certificate and self.certificates.needs_certificate():
            await protocol.sign_certificate()
        while True:
            self._wake.clear()
            while self._jobs:
                result = self._jobs.popleft()(protocol)
                if inspect.isawaitable(result):
                    await result
            if self._stopping:
                for connector in self.connectors.values():
                    if connector.session is not None:
                        await self.stop_session(protocol, connector, "Local")
                return
            if time.monotonic() >= self._heartbeat_at:
                await protocol.heartbeat()
                self._schedule_heartbeat()
            for connector in self.connectors.values():
                await self._tick(protocol, connector)
            await self._sleep(self._next_deadline() - time.monotonic())

    async def _boot(self, protocol: SimulatorProtocol) -> None:
        while not self._stopping:
            answer = await protocol.boot(self._boot_reason)
            if answer is not None and answer[0] == "Accepted":
                self._accept_boot(answer[1])
                return
            retry = BOOT_RETRY_ON_ERROR_S if answer is None else (answer[1] or 30)
            self.note(f"boot {answer[0] if answer else 'failed'}, retrying in {retry} s")
            self._wake.clear()
            await self._sleep(retry)

    def _accept_boot(self, interval: int) -> None:
        if interval > 0:
            self.settings.set(keystore.HEARTBEAT_INTERVAL, str(interval))
        self._schedule_heartbeat()
        self.boot_count += 1
        self.stats.boots += 1
        if not self.accepted:
            self.accepted = True
            self.stats.booted += 1
        self.note(f"booted ({self._boot_reason})")
        self._boot_reason = "PowerUp"
        booted, self._next_boot = self._next_boot, asyncio.Event()
        booted.set()

    async def boot_again(self, protocol: SimulatorProtocol, reason: str) -> None:
        """Send BootNotification without rebooting (TriggerMessage)."""
        answer = await protocol.boot(reason)
        if answer is not None and answer[0] == "Accepted" and answer[1] > 0:
            self.settings.set(keystore.HEARTBEAT_INTERVAL, str(answer[1]))
            self._schedule_heartbeat()

    def _schedule_heartbeat(self) -> None:
        interval = self.settings.get_int(keystore.HEARTBEAT_INTERVAL)
        self._heartbeat_at = time.monotonic() + interval if interval > 0 else float("inf")

    def _pause(self) -> float:
        if self.config.session_pause is not None:
            return self.config.session_pause
        return max(0.5, 2 * self.config.meter_interval)

    def _next_deadline(self) -> float:
        now = time.monotonic()
        deadlines = [self._heartbeat_at, now + 3600]
        for connector in self.connectors.values():
            session = connector.session
            if session is not None:
                if session.stop_reason:
                    return now
                if self.meter_interval > 0:
                    deadlines.append(session.next_sample_at)
                if session.ends_at is not None:
                    deadlines.append(session.ends_at)
            elif self._may_start(connector, self.tag_for(connector)):
                deadlines.append(connector.next_session_at)
            if connector.reservation is not None:
                left = (connector.reservation.expires_at - utcnow()).total_seconds()
                deadlines.append(now + max(0.0, left))
        return min(deadlines)

    def tag_for(self, connector: Connector) -> str:
        return id_tag_for(self.config.id_tag, self.config.number, connector.connector_id)

    def _may_start(self, connector: Connector, id_tag: str) -> bool:
        return (
            self.scripted
            and not self._stopping
            and self._reset_when_idle is None
            and self.station_operative
            and connector.operative
            and not connector.busy
            and connector.status in ("Available", "Reserved")
            and (connector.reservation is None or connector.reservation.id_tag == id_tag)
        )

    async def _tick(self, protocol: SimulatorProtocol, connector: Connector) -> None:
        now = time.monotonic()
        reservation = connector.reservation
        if reservation is not None and utcnow() >= reservation.expires_at:
            await self._end_reservation(protocol, connector, "Expired")
        session = connector.session
        if session is None:
            tag = self.tag_for(connector)
            if self._may_start(connector, tag) and now >= connector.next_session_at:
                await self.start_session(protocol, connector, tag)
            return
        if session.stop_reason:
            await self.stop_session(protocol, connector, session.stop_reason)
        elif session.ends_at is not None and now >= session.ends_at:
            await self.stop_session(protocol, connector, "Local")
        elif self.meter_interval > 0 and now >= session.next_sample_at:
            session.next_sample_at += self.meter_interval
            if session.next_sample_at < now:
                session.next_sample_at = now + self.meter_interval
            reading = self.read_meter(connector)
            await protocol.meter_values(connector, session, reading, "Sample.Periodic")
            curve = connector.meter.curve
            if curve is not None and curve.full and session.charging_state == "Charging":
                session.charging_state = "SuspendedEV"
                connector.status = "SuspendedEV"
                await protocol.charging_state_changed(connector, session, reading)
                await self.report_status(protocol, connector)

    def read_meter(self, connector: Connector) -> Reading:
        now = time.monotonic()
        connector.meter.advance(now - connector.metered_at)
        connector.metered_at = now
        return connector.meter.reading()

    async def report_status(
        self, protocol: SimulatorProtocol, connector: Connector, *, force: bool = False
    ) -> None:
        name = protocol.status_name(connector.status)
        if name == connector.reported and not force:
            return
        connector.reported = name
        await protocol.status(connector.connector_id, name)

    async def report_statuses(self, protocol: SimulatorProtocol) -> None:
        for connector in self.connectors.values():
            await self.report_status(protocol, connector)

    # --- sessions ------------------------------------------------------------------------

    def _idle_status(self, connector: Connector) -> str:
        if not (connector.operative and self.station_operative):
            return "Unavailable"
        return "Reserved" if connector.reservation is not None else "Available"

    async def start_session(
        self,
        protocol: SimulatorProtocol,
        connector: Connector,
        id_tag: str,
        *,
        token_type: str = "ISO14443",
        remote_start_id: int | None = None,
        authorize: bool = True,
        trigger: str = "Authorized",
    ) -> None:
        """Plug in, authorize, start a transaction and charge."""
        connector.claimed = True
        try:
            connector.status = "Preparing"
            await self.report_status(protocol, connector)
            if authorize:
                status = await protocol.authorize(id_tag)
                if status != "Accepted":
                    self.note(f"{id_tag} not authorized ({status}) on {connector.connector_id}")
                    connector.status = self._idle_status(connector)
                    connector.next_session_at = time.monotonic() + self._pause()
                    await self.report_status(protocol, connector)
                    return
            reservation_id = None
            if connector.reservation is not None and connector.reservation.id_tag == id_tag:
                reservation_id = connector.reservation.reservation_id
                connector.reservation = None
            now = time.monotonic()
            duration = self.session_duration if self.scripted else None
            ramp = self.config.ramp_s
            if ramp is None:
                ramp = min(4.0, (duration or 40.0) / 10)
            connector.meter.curve = curve_for_session(
                rng=self.rng,
                charger_max_current_a=self.config.max_current_a,
                phases=self.config.phases,
                duration_s=duration,
                ramp_s=ramp,
            )
            connector.metered_at = now
            session = Session(
                id_tag=id_tag,
                started_at=utcnow(),
                meter_start_wh=int(connector.meter.energy_wh),
                ends_at=now + duration if duration else None,
                next_sample_at=now + self.meter_interval,
                remote_start_id=remote_start_id,
                reservation_id=reservation_id,
                token_type=token_type,
            )
            connector.session = session
            answer = await protocol.start_transaction(
                connector, session, connector.meter.reading(), trigger
            )
            if answer is None:
                connector.session = None
                connector.meter.curve = None
                connector.status = self._idle_status(connector)
                await self.report_status(protocol, connector)
                return
            self.stats.sessions_started += 1
            self.note(f"session {session.transaction_id} started on {connector.connector_id}")
            connector.status = "Charging"
            await self.report_status(protocol, connector)
            if answer != "Accepted" and self.settings.get_bool(keystore.STOP_ON_INVALID_ID):
                session.stop_reason = "DeAuthorized"
        finally:
            connector.claimed = False

    async def stop_session(
        self, protocol: SimulatorProtocol, connector: Connector, reason: str
    ) -> None:
        """Stop the connector's transaction, then free the connector."""
        session = connector.session
        if session is None:
            return
        session.stop_reason = session.stop_reason or reason
        reading = self.read_meter(connector)
        await protocol.stop_transaction(connector, session, reading, session.stop_reason)
        connector.session = None
        connector.meter.curve = None
        connector.next_session_at = time.monotonic() + self._pause()
        self.stats.sessions_stopped += 1
        self.note(f"session {session.transaction_id} stopped ({session.stop_reason})")
        if self.v16:
            connector.status = "Finishing"
            await self.report_status(protocol, connector)
        if connector.scheduled_operative is not None:
            connector.operative = connector.scheduled_operative
            connector.scheduled_operative = None
        connector.status = self._idle_status(connector)
        await self.report_status(protocol, connector)
        if self._reset_when_idle is not None and not any(c.busy for c in self.connectors.values()):
            stop_reason, boot_reason = self._reset_when_idle
            self.submit(lambda p: self.reboot(p, stop_reason, boot_reason))

    def request_stop(self, transaction_id: str, reason: str) -> bool:
        """Mark the transaction for stopping; False when no such transaction runs here."""
        connector = self.connector_of_transaction(transaction_id)
        if connector is None or connector.session is None:
            return False
        connector.session.stop_reason = connector.session.stop_reason or reason
        self._wake.set()
        return True

    def connector_of_transaction(self, transaction_id: str) -> Connector | None:
        for connector in self.connectors.values():
            if connector.session is not None and connector.session.transaction_id == str(
                transaction_id
            ):
                return connector
        return None

    def claim_connector(self, connector_id: int | None, id_tag: str) -> Connector | None:
        """Pick (and hold) a connector for a remote start, or None when none is free."""
        if connector_id:
            candidates = [self.connectors[connector_id]] if connector_id in self.connectors else []
        else:
            candidates = list(self.connectors.values())
        for connector in candidates:
            if connector.busy or not (connector.operative and self.station_operative):
                continue
            if connector.status == "Faulted" or self._stopping:
                continue
            if connector.reservation is not None and connector.reservation.id_tag != id_tag:
                continue
            connector.claimed = True
            return connector
        return None

    # --- commands ------------------------------------------------------------------------

    def reset(self, *, stop_reason: str, boot_reason: str, on_idle: bool = False) -> str:
        """Reboot now (Accepted) or once the running sessions end (Scheduled)."""
        if on_idle and any(c.busy for c in self.connectors.values()):
            self._reset_when_idle = (stop_reason, boot_reason)
            return "Scheduled"
        return "Accepted"

    async def reboot(self, protocol: SimulatorProtocol, stop_reason: str, boot_reason: str) -> None:
        """Stop every session, then leave the connection and boot again."""
        self._reset_when_idle = None
        for connector in self.connectors.values():
            if connector.session is not None:
                await self.stop_session(protocol, connector, stop_reason)
        raise Reboot(boot_reason)

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """Apply ChangeAvailability (0: the whole station); return the answer's status."""
        if connector_id == 0:
            targets = list(self.connectors.values())
            self.station_operative = operative
        elif connector_id in self.connectors:
            targets = [self.connectors[connector_id]]
        else:
            return "Rejected"
        scheduled = False
        for connector in targets:
            if connector.busy and not operative:
                connector.scheduled_operative = operative
                scheduled = True
                continue
            connector.operative = operative
            connector.scheduled_operative = None
            if not connector.busy:
                connector.status = self._idle_status(connector)
        return "Scheduled" if scheduled else "Accepted"

    def reserve(
        self, *, reservation_id: int, connector_id: int | None, id_tag: str, expires_at: datetime
    ) -> str:
        """Apply ReserveNow; return Accepted, Faulted, Occupied, Rejected or Unavailable."""
        for connector in self.connectors.values():
            held = connector.reservation
            if held is not None and held.reservation_id == reservation_id:
                connector.reservation = None  # a reservation id sent again replaces it
                if connector.status == "Reserved":
                    connector.status = self._idle_status(connector)
        if connector_id is None:
            free = [
                c
                for c in self.connectors.values()
                if c.operative and not c.busy and c.reservation is None
            ]
            if not free:
                return "Occupied"
            connector = free[0]
        elif connector_id in self.connectors:
            connector = self.connectors[connector_id]
        else:
            return "Rejected"
        if connector.status == "Faulted":
            return "Faulted"
        if not (connector.operative and self.station_operative):
            return "Unavailable"
        if connector.busy or connector.reservation is not None:
            return "Occupied"
        connector.reservation = Reservation(reservation_id, id_tag, expires_at)
        connector.status = "Reserved"
        self._wake.set()
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> bool:
        for connector in self.connectors.values():
            held = connector.reservation
            if held is not None and held.reservation_id == reservation_id:
                connector.reservation = None
                if connector.status == "Reserved":
                    connector.status = self._idle_status(connector)
                return True
        return False

    async def _end_reservation(
        self, protocol: SimulatorProtocol, connector: Connector, status: str
    ) -> None:
        reservation = connector.reservation
        if reservation is None:
            return
        connector.reservation = None
        if connector.status == "Reserved":
            connector.status = self._idle_status(connector)
            await self.report_status(protocol, connector)
        await protocol.reservation_ended(reservation.reservation_id, status)

    def send_local_list(
        self, *, version: int, full: bool, entries: list[tuple[str, dict[str, Any] | None]]
    ) -> str:
        """Apply SendLocalList; return Accepted, VersionMismatch or Disabled."""
        if not self.settings.get_bool(keystore.LOCAL_LIST_ENABLED):
            return "Disabled"
        if not full and version <= self.local_list_version:
            return "VersionMismatch"
        if full:
            self.local_list = {tag: info for tag, info in entries if info is not None}
        else:
            for tag, info in entries:
                if info is None:
                    self.local_list.pop(tag, None)
                else:
                    self.local_list[tag] = info
        self.local_list_version = version
        return "Accepted"

    def setting_written(self, address: keystore.Address) -> None:
        """Take a setting the CSMS changed into account at once."""
        names = self.settings.names
        if address == names[keystore.METER_INTERVAL]:
            self.meter_interval = float(self.settings.get_int(keystore.METER_INTERVAL))
            now = time.monotonic()
            for connector in self.connectors.values():
                if connector.session is not None:
                    connector.session.next_sample_at = now + self.meter_interval
        elif address == names[keystore.HEARTBEAT_INTERVAL]:
            self._schedule_heartbeat()
        self._wake.set()

    # --- for the transfers ---------------------------------------------------------------

    async def when_online(self, send: Callable[[SimulatorProtocol], Awaitable[Any]]) -> None:
        """Send a notification on the current connection, waiting for one if need be."""
        while True:
            await self._online.wait()
            protocol = self.protocol
            if protocol is None:
                await asyncio.sleep(0.1)
                continue
            try:
                await send(protocol)
                return
            except ConnectionClosed:
                await asyncio.sleep(0.1)

    def next_boot(self) -> asyncio.Event:
        """Return the event set when the charger is next accepted after a boot."""
        return self._next_boot


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return _refusal(exc.response)
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        return f"connection closed ({code}: {reason})"
    if isinstance(exc, TimeoutError):
        return "timed out connecting"
    return f"{type(exc).__name__}: {exc}"


# Enough of a refusal's body to say why, not a whole error page.
REFUSAL_REASON_CHARS = 200


def _refusal(response: Response) -> str:
    """Say how the CSMS refused the handshake: its HTTP status and, when it sent one, why."""
    status = str(response.status_code)
    with contextlib.suppress(ValueError):
        status = f"{status} {HTTPStatus(response.status_code).phrase}"
    text = f"connection refused: HTTP {status}"
    body = bytes(response.body or b"").decode(errors="replace").strip()
    if body and response.headers.get("Content-Type", "").startswith("text/plain"):
        text += f": {body[:REFUSAL_REASON_CHARS]}"
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        text += f" (Retry-After: {retry_after})"
    return text
