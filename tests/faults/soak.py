"""The soak: many chargers over real sockets while the server, PostgreSQL and Redis fail.

One engine for `scripts/soak.py` (the full run: 200 chargers, 10 minutes) and for
`tests/faults/test_soak.py` (a short run in CI). The caller gives a started private
PostgreSQL and Redis (tests/faults/processes.py); the engine creates a database on that
PostgreSQL, migrates it, starts the server with start.sh's command line (uvicorn by default)
and a Celery worker with embedded beat (as start.sh does), then runs, in one asyncio loop of
this process:

- the chargers: independent OCPP-J clients, half 1.6 and half 2.0.1. Each boots, reports its
  status, charges in sessions (Authorize, StartTransaction, MeterValues, StopTransaction on 1.6;
  Authorize and TransactionEvent Started/Updated/Ended on 2.0.1), sends Heartbeats and
  MeterValues between sessions. One CALL at a time. A frame that got no CALLRESULT (CALLERROR
  InternalError, no answer in time, connection gone) is sent again with the same payload until
  it gets one; after a close the charger reconnects with backoff. Every frame carries a
  timestamp of its own (the charger's frame counter in seconds after the start), so the
  database can be checked frame by frame. Commands of the CSMS are answered.
- the faults, on a seeded random schedule: TCP aborts of charger sockets (no close frame),
  SIGKILL of the server process (then started again on the same port; at each kill a few
  chargers lose their network with it and stay away to the end), PostgreSQL restarts (stop, a
  few seconds, start) and Redis restarts.
- the operator: commands (ChangeAvailability, TriggerMessage, GetConfiguration or
  GetVariables) on random chargers through the REST API with a token.

Then the faults stop, the chargers finish their sessions (every frame acknowledged), the
commands are given time to end (the beat job expires those of a killed server), and the
checks run with the chargers still connected:

- every frame that got a CALLRESULT is in the database exactly once;
- the stations marked connected are exactly those with an open socket;
- no command is left `pending` or `sent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import websockets

from tests.faults.processes import (
    BASE_DIR,
    Database,
    PrivatePostgres,
    PrivateRedis,
    Server,
    celery_command,
    manage,
    migrate,
    server_env,
)

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"
ANSWER_WITHIN = 30.0
INTERNAL_ERROR_PAUSE = 1.0
MAX_BACKOFF = 8.0
ADMIN = ("soak", "soak-password-1")
ID_TAGS = [f"SOAK-TAG-{n:02d}" for n in range(20)]
FINAL_STATES = {"accepted", "rejected", "error", "timeout", "offline"}


@dataclass
class SoakConfig:
    chargers: int = 200
    seconds: float = 600.0
    seed: int = 1
    server: str = "uvicorn"
    interval: float = 2.0  # mean pause of a charger between two frames, seconds
    kills: int = 0  # 0: one every 100 s of run (at least one)
    pg_restarts: int = 0  # 0: one every 150 s (at least one)
    redis_restarts: int = 0  # 0: one every 150 s (at least one)
    aborts_per_minute: float = 30.0
    commands_per_minute: float = 60.0
    off_at_kill: int = 2  # chargers that lose their network with each kill, for good
    command_timeout: float = 15.0
    settle_within: float = 180.0

    def count(self, given: int, every: float) -> int:
        return given or max(1, round(self.seconds / every))


@dataclass
class Figures:
    frames_sent: int = 0  # every send, retries included
    frames_acknowledged: int = 0  # frames that got a CALLRESULT
    refused_internal_error: int = 0  # answers CALLERROR InternalError (then sent again)
    other_call_errors: Counter = field(default_factory=Counter)
    retries: int = 0  # sends of a frame after a failed attempt
    answer_timeouts: int = 0
    lost_with_connection: int = 0  # attempts whose connection closed before the answer
    connects: int = 0
    connect_failures: int = 0
    aborts: int = 0
    kills: int = 0
    pg_restarts: int = 0
    redis_restarts: int = 0
    chargers_off_at_kill: int = 0
    unexpected_server_exits: int = 0
    celery_exits: int = 0
    commands_posted: int = 0
    command_api_refusals: Counter = field(default_factory=Counter)
    commands_answered_by_chargers: Counter = field(default_factory=Counter)


def iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Charger:
    """One charging station: its own socket, one CALL at a time, retries until answered."""

    def __init__(self, soak: Soak, index: int) -> None:
        self.soak = soak
        self.id = f"SOAK-{index:03d}"
        self.version = V16 if index % 2 == 0 else V201
        self.address = f"127.0.{index // 250}.{index % 250 + 2}"
        self.rng = random.Random(soak.config.seed * 100_003 + index)
        self.ws: Any = None
        self.opened_at = 0.0
        self.closed_at: float | None = None
        self.backoff = 0.5
        self.reader: asyncio.Task | None = None
        self.waiting: tuple[str, asyncio.Future] | None = None
        self.frame = 0  # counter: the frame's timestamp is T0 + frame seconds
        self.seq_no = 0
        self.wh = 0
        self.sessions = 0
        self.on = True  # False: lost its network for good (at a kill)
        self.outbox: list[tuple[str, dict]] = []  # frames a TriggerMessage asked for
        self.acked: list[tuple[str, dict, dict]] = []
        self.booted = False

    # --- the socket -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.ws is not None

    async def connection(self) -> Any:
        """The open socket, or a new one: after a close, a pause first (backoff, doubled
        while connections keep closing within seconds of opening)."""
        if self.ws is None and self.closed_at is not None:
            lived = self.closed_at - self.opened_at
            self.backoff = min(self.backoff * 2, MAX_BACKOFF) if lived < 5 else 0.5
            await asyncio.sleep(self.backoff * self.rng.uniform(0.5, 1.5))
        while self.ws is None:
            if not self.on:
                await asyncio.Event().wait()  # away for good: the task is cancelled at the end
            try:
                ws = await websockets.connect(
                    f"{self.soak.server.ws_url}/ocpp/{self.id}",
                    subprotocols=[self.version],
                    open_timeout=ANSWER_WITHIN,
                    close_timeout=5,
                    # An address of its own, as separate chargers have (the server limits
                    # handshakes per address).
                    local_addr=(self.address, 0),
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                self.soak.figures.connect_failures += 1
                self.backoff = min(self.backoff * 2, MAX_BACKOFF)
                await asyncio.sleep(self.backoff * self.rng.uniform(0.5, 1.5))
                continue
            if not self.on:
                ws.transport.abort()
                continue
            self.soak.figures.connects += 1
            self.ws = ws
            self.opened_at = time.monotonic()
            self.closed_at = None
            self.reader = asyncio.create_task(self.read(ws))
        return self.ws

    async def read(self, ws: Any) -> None:
        try:
            async for text in ws:
                message = json.loads(text)
                if message[0] == 2:
                    await self.answer(ws, message)
                elif self.waiting and message[1] == self.waiting[0]:
                    if not self.waiting[1].done():
                        self.waiting[1].set_result(message)
        except Exception:  # closed in any way: the CALL in flight is lost with it
            pass
        finally:
            if self.ws is ws:
                self.ws = None
                self.closed_at = time.monotonic()
            if self.waiting and not self.waiting[1].done():
                self.waiting[1].set_result(None)  # no answer will come on this connection

    def drop(self, ws: Any) -> None:
        """Forget a connection that failed (the reader may not have seen its end yet): the
        next attempt pauses and opens a new one, instead of failing on this one in a loop
        that never yields."""
        if self.ws is ws:
            ws.transport.abort()
            self.ws = None
            self.closed_at = time.monotonic()

    def abort(self) -> bool:
        """Drop the TCP connection: no close frame, as a charger losing its network."""
        if self.ws is None:
            return False
        self.ws.transport.abort()
        return True

    # --- commands of the CSMS -------------------------------------------------------------

    async def answer(self, ws: Any, message: list) -> None:
        _, message_id, action, payload = message
        self.soak.figures.commands_answered_by_chargers[action] += 1
        if action in ("ChangeAvailability", "TriggerMessage"):
            result: dict = {"status": "Accepted"}
            if action == "TriggerMessage":
                self.outbox.append(("Heartbeat", {}))
        elif action == "GetConfiguration":
            result = {
                "configurationKey": [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
                ],
                "unknownKey": [],
            }
        elif action == "GetVariables":
            result = {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "attributeValue": "1",
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                    for item in payload["getVariableData"]
                ]
            }
        else:
            await ws.send(json.dumps([4, message_id, "NotImplemented", "", {}]))
            return
        await ws.send(json.dumps([3, message_id, result]))

    # --- CALLs ----------------------------------------------------------------------------

    async def call(self, action: str, payload: dict) -> dict | None:
        """Send until a CALLRESULT comes; None after a CALLERROR other than InternalError."""
        figures = self.soak.figures
        attempt = 0
        while True:
            if attempt:
                figures.retries += 1
            attempt += 1
            ws = await self.connection()
            message_id = uuid.uuid4().hex
            future = asyncio.get_running_loop().create_future()
            self.waiting = (message_id, future)
            try:
                await ws.send(json.dumps([2, message_id, action, payload]))
                figures.frames_sent += 1
                reply = await asyncio.wait_for(asyncio.shield(future), ANSWER_WITHIN)
            except TimeoutError:
                figures.answer_timeouts += 1
                continue
            except Exception:  # the connection went away: send it again on the next one
                reply = None
            finally:
                self.waiting = None
            if reply is None:
                figures.lost_with_connection += 1
                self.drop(ws)
                continue
            if reply[0] == 3:
                figures.frames_acknowledged += 1
                self.acked.append((action, payload, reply[2]))
                return reply[2]
            if reply[2] == "InternalError":
                figures.refused_internal_error += 1
                await asyncio.sleep(INTERNAL_ERROR_PAUSE * self.rng.uniform(0.5, 1.5))
                continue
            figures.other_call_errors[f"{action}: {reply[2]}: {reply[3]}"] += 1
            return None

    # --- the charger's life ---------------------------------------------------------------

    def at(self) -> str:
        self.frame += 1
        return iso(self.soak.t0 + timedelta(seconds=self.frame))

    def energy(self, context: str) -> tuple[str, list[dict]]:
        timestamp = self.at()
        self.wh += self.rng.randint(10, 500)
        if self.version == V16:
            sampled = {
                "value": str(self.wh),
                "unit": "Wh",
                "context": context,
                "measurand": "Energy.Active.Import.Register",
            }
        else:
            sampled = {
                "value": self.wh,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"},
            }
        return timestamp, [{"timestamp": timestamp, "sampledValue": [sampled]}]

    async def pause(self) -> None:
        await asyncio.sleep(min(self.rng.expovariate(1 / self.soak.config.interval), 10.0))

    async def flush_outbox(self) -> None:
        while self.outbox:
            await self.call(*self.outbox.pop(0))

    async def life(self) -> None:
        if self.version == V16:
            boot = {"chargePointVendor": "Soak", "chargePointModel": "S16"}
        else:
            boot = {"chargingStation": {"vendorName": "Soak", "model": "S201"}, "reason": "PowerUp"}
        await self.call("BootNotification", boot)
        self.booted = True
        await self.status("Available")
        while not self.soak.winding_down:
            await self.pause()
            await self.flush_outbox()
            roll = self.rng.random()
            if roll < 0.35:
                await self.session()
            elif roll < 0.6:
                await self.call("Heartbeat", {})
            elif roll < 0.85:
                await self.meter_values(None)
            else:
                await self.status(self.rng.choice(["Available", "Unavailable"]))
        await self.flush_outbox()

    async def status(self, status: str) -> None:
        if self.version == V16:
            payload = {"connectorId": 1, "errorCode": "NoError", "status": status}
        else:
            status = {"Charging": "Occupied", "Preparing": "Occupied"}.get(status, status)
            payload = {"connectorStatus": status, "evseId": 1, "connectorId": 1}
        payload["timestamp"] = self.at()
        await self.call("StatusNotification", payload)

    async def meter_values(self, transaction_id: int | None) -> None:
        _, meter_value = self.energy("Sample.Periodic")
        if self.version == V16:
            payload: dict = {"connectorId": 1, "meterValue": meter_value}
            if transaction_id is not None:
                payload["transactionId"] = transaction_id
        else:
            payload = {"evseId": 1, "meterValue": meter_value}
        await self.call("MeterValues", payload)

    async def session(self) -> None:
        tag = self.rng.choice(ID_TAGS)
        readings = self.rng.randint(2, 6)
        self.sessions += 1
        if self.version == V16:
            await self.call("Authorize", {"idTag": tag})
            await self.status("Preparing")
            started = await self.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": tag, "meterStart": self.wh, "timestamp": self.at()},
            )
            if started is None:
                return
            transaction_id = started["transactionId"]
            await self.status("Charging")
            for _ in range(readings):
                if self.soak.winding_down:
                    break
                await self.pause()
                await self.meter_values(transaction_id)
            await self.call(
                "StopTransaction",
                {
                    "transactionId": transaction_id,
                    "idTag": tag,
                    "meterStop": self.wh,
                    "timestamp": self.at(),
                    "reason": "Local",
                },
            )
            await self.status("Available")
            return
        token = {"idToken": tag, "type": "ISO14443"}
        tx = f"{self.id}-T{self.sessions}"
        await self.call("Authorize", {"idToken": token})
        await self.status("Occupied")
        await self.transaction_event("Started", tx, "Authorized", id_token=token)
        for _ in range(readings):
            if self.soak.winding_down:
                break
            await self.pause()
            if self.rng.random() < 0.3:
                await self.meter_values(None)
            else:
                await self.transaction_event("Updated", tx, "MeterValuePeriodic")
        await self.transaction_event("Ended", tx, "StopAuthorized", id_token=token)
        await self.status("Available")

    async def transaction_event(self, kind: str, tx: str, trigger: str, **extra: Any) -> None:
        context = {
            "Started": "Transaction.Begin",
            "Updated": "Sample.Periodic",
            "Ended": "Transaction.End",
        }
        timestamp, meter_value = self.energy(context[kind])
        info: dict = {"transactionId": tx, "chargingState": "Charging"}
        if kind == "Ended":
            info = {"transactionId": tx, "chargingState": "Idle", "stoppedReason": "Local"}
        payload = {
            "eventType": kind,
            "timestamp": timestamp,
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            "transactionInfo": info,
            "meterValue": meter_value,
        }
        self.seq_no += 1
        if kind == "Started":
            payload["evse"] = {"id": 1, "connectorId": 1}
        if "id_token" in extra:
            payload["idToken"] = extra["id_token"]
        await self.call("TransactionEvent", payload)


class Soak:
    """The run: server, Celery, chargers, faults and operator, then the checks."""

    def __init__(
        self, config: SoakConfig, postgres: PrivatePostgres, redis: PrivateRedis, workdir: Path
    ) -> None:
        self.config = config
        self.postgres = postgres
        self.redis = redis
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.figures = Figures()
        self.t0 = datetime.now(UTC).replace(microsecond=0)
        self.winding_down = False
        self.processes_lock = asyncio.Lock()
        self.finished = False
        self.command_ids: list[int] = []
        self.token = ""
        self.celery: subprocess.Popen | None = None
        self.events: list[str] = []
        self.started = time.monotonic()
        postgres.create_database("soak")
        self.database_url = postgres.url("soak")
        self.database = Database(self.database_url)
        self.env = server_env(
            workdir / "data",
            self.database_url,
            REDIS_URL=redis.url,
            ADMIN_USERNAME=ADMIN[0],
            ADMIN_PASSWORD=ADMIN[1],
            LOG_LEVEL="WARNING",
            # A worker runs beside the server (start_celery), as start.sh tells its server.
            CELERY_QUEUE="on",
        )
        self.server = Server(self.env, workdir / "server.log", server=config.server)
        self.chargers = [Charger(self, n) for n in range(config.chargers)]

    def log(self, text: str) -> None:
        line = f"{time.monotonic() - self.started:7.1f}s {text}"
        self.events.append(line)
        print(line, file=sys.stderr, flush=True)

    # --- processes ------------------------------------------------------------------------

    def prepare(self) -> None:
        migrate(self.env)
        completed = manage(self.env, "ensure_admin")
        assert completed.returncode == 0, completed.stderr
        self.server.start()
        self.start_celery()
        response = requests.post(
            f"{self.server.http_url}/api/auth/token/",
            json={"username": ADMIN[0], "password": ADMIN[1]},
            timeout=30,
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        for tag in ID_TAGS:
            created = self.api("POST", "/api/id-tags/", {"id_tag": tag, "status": "Accepted"})
            assert created.status_code == 201, created.text

    def start_celery(self) -> None:
        with (self.workdir / "celery.log").open("a") as log:
            self.celery = subprocess.Popen(
                [sys.executable, *celery_command(), "--concurrency", "1"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_processes(self) -> None:
        self.server.stop()
        if self.celery and self.celery.poll() is None:
            self.celery.terminate()
            try:
                self.celery.wait(20)
            except subprocess.TimeoutExpired:
                self.celery.kill()
                self.celery.wait(10)

    def api(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.server.http_url}{path}",
            json=body,
            headers={"Authorization": f"Token {self.token}"},
            timeout=30,
        )

    # --- faults ---------------------------------------------------------------------------

    def schedule(self) -> list[tuple[float, str]]:
        config = self.config
        plan = []
        for kind, count in (
            ("kill", config.count(config.kills, 100)),
            ("postgres", config.count(config.pg_restarts, 150)),
            ("redis", config.count(config.redis_restarts, 150)),
        ):
            # One in each of `count` equal slices of the middle of the run, at a random place.
            span = config.seconds * 0.8 / count
            for n in range(count):
                plan.append((config.seconds * 0.1 + span * (n + self.rng.random()), kind))
        return sorted(plan)

    async def faults(self) -> None:
        for when, kind in self.schedule():
            await asyncio.sleep(max(0.0, self.started + when - time.monotonic()))
            async with self.processes_lock:
                await self.fault(kind)

    async def fault(self, kind: str) -> None:
        await self.keep_processes()
        if kind == "kill":
            connected = [c for c in self.chargers if c.connected and c.on]
            for charger in self.rng.sample(connected, min(self.config.off_at_kill, len(connected))):
                charger.on = False  # its network goes with the server: never back
                self.figures.chargers_off_at_kill += 1
            await asyncio.to_thread(self.server.kill)
            self.figures.kills += 1
            self.log("server killed")
            await asyncio.to_thread(self.server.start)
            self.log("server started again")
        elif kind == "postgres":
            await asyncio.to_thread(self.postgres.stop)
            self.figures.pg_restarts += 1
            self.log("PostgreSQL stopped")
            await asyncio.sleep(3 + 2 * self.rng.random())
            await asyncio.to_thread(self.postgres.start)
            self.log("PostgreSQL started again")
        else:
            await asyncio.to_thread(self.redis.stop)
            self.figures.redis_restarts += 1
            self.log("Redis stopped")
            await asyncio.sleep(2 + 2 * self.rng.random())
            await asyncio.to_thread(self.redis.start)
            self.log("Redis started again")

    async def watch(self) -> None:
        """Look every second for a server or Celery that died without being killed here."""
        while not self.finished:
            async with self.processes_lock:
                await self.keep_processes()
            await asyncio.sleep(1)

    async def keep_processes(self) -> None:
        """A server or Celery that died without being killed here is counted, then started."""
        if self.server.process is not None and self.server.process.poll() is not None:
            self.figures.unexpected_server_exits += 1
            self.log(f"the server exited by itself ({self.server.process.returncode})")
            await asyncio.to_thread(self.server.start)
        if self.celery is not None and self.celery.poll() is not None:
            self.figures.celery_exits += 1
            self.log(f"Celery exited ({self.celery.returncode}); started again")
            self.start_celery()

    async def aborts(self) -> None:
        rate = self.config.aborts_per_minute / 60
        while not self.winding_down:
            await asyncio.sleep(self.rng.expovariate(rate))
            connected = [c for c in self.chargers if c.connected]
            if connected and not self.winding_down and self.rng.choice(connected).abort():
                self.figures.aborts += 1

    async def commands(self) -> None:
        rate = self.config.commands_per_minute / 60
        while not self.winding_down:
            await asyncio.sleep(self.rng.expovariate(rate))
            booted = [c for c in self.chargers if c.booted]
            if not booted or self.winding_down:
                continue
            charger = self.rng.choice(booted)
            action, payload = self.command_for(charger)
            body = {
                "charger": charger.id,
                "action": action,
                "payload": payload,
                "timeout": self.config.command_timeout,
            }
            try:
                response = await asyncio.to_thread(self.api, "POST", "/api/commands/", body)
            except requests.RequestException as exc:
                self.figures.command_api_refusals[type(exc).__name__] += 1
                continue
            if response.status_code == 201:
                self.figures.commands_posted += 1
                self.command_ids.append(response.json()["id"])
            else:
                self.figures.command_api_refusals[f"HTTP {response.status_code}"] += 1

    def command_for(self, charger: Charger) -> tuple[str, dict]:
        action = self.rng.choice(["ChangeAvailability", "TriggerMessage", "Get"])
        v16 = charger.version == V16
        if action == "ChangeAvailability":
            if v16:
                return action, {"connectorId": 0, "type": "Operative"}
            return action, {"operationalStatus": "Operative"}
        if action == "TriggerMessage":
            return action, {"requestedMessage": "Heartbeat"}
        if v16:
            return "GetConfiguration", {"key": ["HeartbeatInterval"]}
        return "GetVariables", {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        }

    # --- the run --------------------------------------------------------------------------

    async def run(self) -> dict:
        self.started = time.monotonic()
        lives = {c.id: asyncio.create_task(c.life()) for c in self.chargers}
        helpers = [asyncio.create_task(self.aborts()), asyncio.create_task(self.commands())]
        faults = asyncio.create_task(self.faults())
        watch = asyncio.create_task(self.watch())
        await asyncio.sleep(self.config.seconds)
        await faults  # the last fault ends (its service is back) before the settling
        self.winding_down = True
        await asyncio.gather(*helpers)
        self.log("faults over: settling")
        settling = [lives[c.id] for c in self.chargers if c.on]
        done: set = set()
        if settling:
            done, _ = await asyncio.wait(settling, timeout=self.config.settle_within)
        for task in done:
            task.result()  # a charger that crashed is a bug of the soak: show it
        unsettled = [c.id for c in self.chargers if c.on and not lives[c.id].done()]
        self.log(f"settled ({len(unsettled)} chargers not)")
        commands = await self.commands_settle()
        connected = await self.connected_check()
        frames = await asyncio.to_thread(self.frames_check)
        for task in lives.values():
            task.cancel()
        await asyncio.gather(*lives.values(), return_exceptions=True)
        for charger in self.chargers:
            if charger.ws is not None:
                with contextlib.suppress(Exception):
                    await charger.ws.close()
        self.finished = True
        await watch
        figures = {
            name: dict(value) if isinstance(value, Counter) else value
            for name, value in vars(self.figures).items()
        }
        log = self.server.log()
        return {
            "config": asdict(self.config),
            "figures": figures,
            "chargers_not_settled": unsettled,
            "commands": commands,
            "connected": connected,
            "frames": frames,
            "server_log_tracebacks": log.count("Traceback"),
            "ok": not unsettled and commands["ok"] and connected["ok"] and frames["ok"],
            "events": self.events,
        }

    async def commands_settle(self) -> dict:
        """Wait for every command to end: the beat job times out those of a killed server
        after their timeout plus 30 s; it runs every minute."""
        within = self.config.command_timeout + 30 + 60 + 60
        deadline = time.monotonic() + within
        while True:
            states = dict(
                await asyncio.to_thread(
                    self.database.rows,
                    "SELECT status, COUNT(*) FROM commands_chargercommand GROUP BY status",
                )
            )
            open_ = {s: n for s, n in states.items() if s not in FINAL_STATES}
            if not open_ or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        self.log(f"commands: {states}")
        return {
            "ok": not open_,
            "posted": len(self.command_ids),
            "stored": sum(states.values()),
            "by_state": states,
            "open": open_,
        }

    async def connected_check(self) -> dict:
        """The stations marked connected against the chargers with an open socket."""
        deadline = time.monotonic() + 30
        while True:
            marked = {
                row[0]
                for row in await asyncio.to_thread(
                    self.database.rows,
                    "SELECT charger_id FROM chargers_chargingstation WHERE is_connected",
                )
            }
            open_ = {c.id for c in self.chargers if c.connected}
            if marked == open_ or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        without_socket = sorted(marked - open_)
        not_marked = sorted(open_ - marked)
        self.log(f"connected: {len(marked)} marked, {len(open_)} open sockets")
        return {
            "ok": not without_socket and not not_marked,
            "open_sockets": len(open_),
            "marked_connected": len(marked),
            "marked_without_socket": without_socket,
            "open_but_not_marked": not_marked,
            "chargers_away": sorted(c.id for c in self.chargers if not c.on),
        }

    def frames_check(self) -> dict:
        """Every acknowledged frame is in the database exactly once."""
        db = self.database
        meter = Counter(
            {
                (cid, ts): n
                for cid, ts, n in db.rows(
                    "SELECT s.charger_id, mv.timestamp, COUNT(*) FROM transactions_metervalue mv "
                    "JOIN chargers_chargingstation s ON s.id = mv.station_id GROUP BY 1, 2"
                )
            }
        )
        status = Counter(
            {
                (cid, ts): n
                for cid, ts, n in db.rows(
                    "SELECT s.charger_id, e.timestamp, COUNT(*) FROM chargers_statusevent e "
                    "JOIN chargers_chargingstation s ON s.id = e.station_id GROUP BY 1, 2"
                )
            }
        )
        transactions = {
            (cid, tx): (n, started, stopped, meter_stop)
            for cid, tx, n, started, stopped, meter_stop in db.rows(
                "SELECT s.charger_id, t.transaction_id, COUNT(*), MIN(t.started_at), "
                "MIN(t.stopped_at), MIN(t.meter_stop_wh) FROM transactions_transaction t "
                "JOIN chargers_chargingstation s ON s.id = t.station_id GROUP BY 1, 2"
            )
        }
        events = Counter(
            {
                (cid, tx, seq): n
                for cid, tx, seq, n in db.rows(
                    "SELECT s.charger_id, t.transaction_id, e.seq_no, COUNT(*) "
                    "FROM transactions_transactionevent e "
                    "JOIN transactions_transaction t ON t.id = e.transaction_id "
                    "JOIN chargers_chargingstation s ON s.id = t.station_id GROUP BY 1, 2, 3"
                )
            }
        )
        accepted = {
            row[0]
            for row in db.rows(
                "SELECT charger_id FROM chargers_chargingstation "
                "WHERE registration_status = 'Accepted'"
            )
        }
        kinds: dict[str, Counter] = {}
        problems: list[str] = []

        def check(kind: str, found: int, what: str) -> None:
            outcome = "once" if found == 1 else "missing" if found == 0 else "duplicated"
            kinds.setdefault(kind, Counter())[outcome] += 1
            if outcome != "once" and len(problems) < 50:
                problems.append(f"{kind} {what}: found {found}")

        for charger in self.chargers:
            cid = charger.id
            for action, payload, response in charger.acked:
                if action == "MeterValues" or action == "TransactionEvent":
                    for value in payload["meterValue"]:
                        ts = parse(value["timestamp"])
                        check("meter value", meter[(cid, ts)], f"{cid} {value['timestamp']}")
                if action == "TransactionEvent":
                    tx, seq = payload["transactionInfo"]["transactionId"], payload["seqNo"]
                    check("transaction event", events[(cid, tx, seq)], f"{cid} {tx} #{seq}")
                elif action == "StatusNotification":
                    ts = parse(payload["timestamp"])
                    check("status notification", status[(cid, ts)], f"{cid} {ts}")
                elif action == "StartTransaction":
                    tx = str(response["transactionId"])
                    row = transactions.get((cid, tx))
                    ok = row is not None and row[1] == parse(payload["timestamp"])
                    check("start transaction", row[0] if ok else 0, f"{cid} {tx}")
                elif action == "StopTransaction":
                    tx = str(payload["transactionId"])
                    row = transactions.get((cid, tx))
                    ok = (
                        row is not None
                        and row[2] == parse(payload["timestamp"])
                        and row[3] == payload["meterStop"]
                    )
                    check("stop transaction", 1 if ok else 0, f"{cid} {tx}")
                elif action == "BootNotification":
                    check("boot (station accepted)", int(cid in accepted), cid)
        not_stored = Counter(a for c in self.chargers for a, _, _ in c.acked)
        for kind in ("Heartbeat", "Authorize"):
            kinds[f"{kind.lower()} (not stored: counted only)"] = Counter(
                acknowledged=not_stored[kind]
            )
        return {
            "ok": not problems,
            "by_kind": {k: dict(v) for k, v in kinds.items()},
            "problems": problems,
        }


def run_soak(
    config: SoakConfig, postgres: PrivatePostgres, redis: PrivateRedis, workdir: Path
) -> dict:
    """Run a whole soak on a started PostgreSQL and Redis; return its figures and checks."""
    soak = Soak(config, postgres, redis, workdir)
    try:
        soak.prepare()
        return asyncio.run(soak.run())
    finally:
        soak.stop_processes()


def summary(result: dict) -> str:
    """The figures as text, for a person."""
    lines = [f"soak: {'PASSED' if result['ok'] else 'FAILED'}"]
    lines += [f"  {key}: {value}" for key, value in result["figures"].items()]
    lines.append(f"  commands by final state: {result['commands']['by_state']}")
    for name in ("commands", "connected", "frames"):
        shown = {k: v for k, v in result[name].items() if k != "by_state"}
        lines.append(f"  check {name}: {json.dumps(shown, default=str)}")
    lines.append(f"  chargers not settled: {result['chargers_not_settled']}")
    lines.append(f"  tracebacks in the server log: {result['server_log_tracebacks']}")
    return "\n".join(lines)
