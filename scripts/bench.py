"""Load benchmark: simulated chargers against this CSMS and against a typical Python CSMS.

    .venv/bin/python scripts/bench.py                      # everything, SQLite, uvicorn
    .venv/bin/python scripts/bench.py --server daphne      # the same with daphne
    .venv/bin/python scripts/bench.py --database-url postgres://postgres@127.0.0.1/bench
                                      (that database is dropped and created anew)
    .venv/bin/python scripts/bench.py --only closed16 --chargers 50 --seconds 20
    .venv/bin/python scripts/bench.py --workers 2 --only closed16 \
        --database-url postgres://postgres@127.0.0.1/bench --redis-url redis://127.0.0.1:6379/5

It starts the servers itself (ours: migrated database in a temporary DATA_DIR, one process,
everything persisted; the reference: scripts/reference_server.py, the `ocpp` library's
ChargePoint with default settings, no database) and drives them with lightweight chargers
(pre-built OCPP-J frames over `websockets`, so the load generator is not the bottleneck —
its CPU use is reported). Workloads:

- closed16: N OCPP 1.6 chargers, each sending MeterValues and waiting for the answer.
- closed201: N OCPP 2.0.1 chargers, each sending TransactionEvent(Updated).
- paced: messages at a fixed total rate (default 1,000/s), latency percentiles.
- idle: N chargers connected and booted, heartbeats; server memory per connection.
- storm: N chargers drop at once and reconnect at once; time until all are booted again.

With --workers N (PostgreSQL and Redis required, as start.sh --workers) N server processes
serve the one database on ports of their own, and the chargers are spread over them in turn
(charger k to worker k mod N), as NGINX's least_conn spreads them in front of a Watchtower.
The closed-loop and paced workloads also report where the machine's CPU went while they ran
(`cpu_by_process_pct`: every process on the machine, grouped by command name, from /proc).

Numbers are printed as a table and written as JSON (--json). docs/performance.md has results.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import itertools
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- servers ----------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_command(labels: dict[int, str]) -> dict[str, float]:
    """CPU seconds of every process on the machine, summed by command name (/proc/PID/stat);
    the pids in `labels` under their label instead, kernel workers as one "kworker"."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = collections.defaultdict(float)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            name = labels.get(int(stat.parent.name), name.split("/")[0])
            fields = text.rsplit(")", 1)[1].split()
            totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (/proc/stat's first line):
    it also counts processes this one cannot see in /proc (other pid namespaces)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


@dataclass
class Server:
    name: str
    url: str  # ws://127.0.0.1:PORT/ocpp/ (of the first worker)
    process: subprocess.Popen
    data_dir: Path | None = None
    env: dict = field(default_factory=dict)
    # With --workers N: the other workers' processes and every worker's URL, in order.
    more: list[subprocess.Popen] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [self.process, *self.more]

    def url_for(self, index: int) -> str:
        """The URL charger number `index` connects to: the workers in turn."""
        return self.urls[index % len(self.urls)] if self.urls else self.url

    def rss_kib(self) -> int:
        """Resident memory of the server processes, KiB."""
        total = 0
        for process in self.processes:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _wait_http(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def fresh_postgres_database(url: str) -> None:
    """Drop and create the database `url` names, so every run starts empty as with SQLite."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"--database-url must name a plain database to recreate, not {name!r}")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def start_ours(
    *,
    server: str = "uvicorn",
    database_url: str = "",
    redis_url: str = "",
    quiet: bool = True,
    workers: int = 1,
) -> Server:
    """Start this CSMS: `workers` processes on a fresh migrated database, limits for the test
    off. More than one needs PostgreSQL and Redis (as start.sh --workers)."""
    if workers > 1 and not (
        database_url.startswith(("postgres://", "postgresql://")) and redis_url
    ):
        raise SystemExit("--workers N > 1 needs --database-url postgres://... and --redis-url")
    data_dir = Path(tempfile.mkdtemp(prefix="constellation-bench-"))
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "OCPP_UNKNOWN_STATIONS": "accept",
        "OCPP_ALLOW_UNSECURED": "true",
        "OCPP_HANDSHAKES_PER_MINUTE_PER_IP": "0",
        "OCPP_MESSAGES_PER_SECOND": "0",
        # Thousands of chargers from 127.0.0.1: the per-address cap would refuse them.
        "OCPP_MAX_CONNECTIONS_PER_IP": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    if not database_url:
        env.pop("DATABASE_URL")
    if not redis_url:
        env.pop("REDIS_URL")
    if database_url.startswith(("postgres://", "postgresql://")):
        fresh_postgres_database(database_url)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    processes: list[subprocess.Popen] = []
    urls: list[str] = []
    for _worker in range(workers):
        port = free_port()
        # start.sh's command line (config/serve.py: the edge protocols and limits), with what
        # a benchmark needs on top: no keep-alive pings (not the workload), no access log.
        served = subprocess.run(
            [PYTHON, "-m", "config.serve", server, "127.0.0.1", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        command = [PYTHON, *served.stdout.splitlines()]
        if server == "uvicorn":
            command += ["--ws-ping-interval", "0", "--no-access-log"]
        else:  # daphne's last argument is the application
            command[-1:-1] = ["-v", "0", "--ping-interval", "3600"]
        output = subprocess.DEVNULL if quiet else None
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, preexec_fn=raise_fd_limit
        )
        _wait_http(f"http://127.0.0.1:{port}/healthz", process)
        processes.append(process)
        urls.append(f"ws://127.0.0.1:{port}/ocpp/")
    name = f"constellation ({server}{f', {workers} workers' if workers > 1 else ''})"
    return Server(name, urls[0], processes[0], data_dir, env, more=processes[1:], urls=urls)


def start_reference() -> Server:
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "scripts" / "reference_server.py"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=raise_fd_limit,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the reference server did not start")
    return Server("reference (ocpp library)", f"ws://127.0.0.1:{port}/ocpp/", process)


# --- chargers ---------------------------------------------------------------------------------


class Charger:
    """One charger speaking pre-built OCPP-J frames; counts answers and errors."""

    def __init__(self, url: str, charger_id: str, version: str) -> None:
        self.url = url + charger_id
        self.charger_id = charger_id
        self.version = version
        self.ws: websockets.ClientConnection | None = None
        self.ids = itertools.count()
        self.errors = 0
        self.latencies: list[float] = []
        self.transaction_id: object = None
        self.seq = 0
        self.clock = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=random.randrange(3000))

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[self.version],
            ping_interval=None,
            open_timeout=120,
            close_timeout=2,
            max_queue=None,
        )

    async def call(self, action: str, payload: dict) -> dict:
        assert self.ws is not None
        message_id = f"{self.charger_id}-{next(self.ids)}"
        started = time.perf_counter()
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        reply = json.loads(await self.ws.recv())
        self.latencies.append(time.perf_counter() - started)
        if reply[0] != 3 or reply[1] != message_id:
            self.errors += 1
            return {}
        return reply[2]

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return iso(self.clock)

    async def boot(self) -> None:
        if self.version == "ocpp1.6":
            payload = {"chargePointVendor": "Bench", "chargePointModel": "Load"}
        else:
            payload = {
                "reason": "PowerUp",
                "chargingStation": {"vendorName": "Bench", "model": "Load"},
            }
        await self.call("BootNotification", payload)

    async def start_transaction(self) -> None:
        if self.version == "ocpp1.6":
            answer = await self.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": self.tick()},
            )
            self.transaction_id = answer.get("transactionId")
        else:
            self.transaction_id = f"tx-{self.charger_id}"
            await self.call("TransactionEvent", self._event("Started", 0))

    def _event(self, event_type: str, wh: int) -> dict:
        event = {
            "eventType": event_type,
            "timestamp": self.tick(),
            "seqNo": self.seq,
            "triggerReason": "Authorized" if event_type == "Started" else "MeterValuePeriodic",
            "transactionInfo": {"transactionId": self.transaction_id},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": self.clock.isoformat().replace("+00:00", "Z"),
                    "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
                }
            ],
        }
        if event_type == "Started":
            event["idToken"] = {"idToken": "BENCH", "type": "ISO14443"}
        self.seq += 1
        return event

    async def meter_sample(self, wh: int) -> None:
        if self.version == "ocpp1.6":
            await self.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": self.transaction_id,
                    "meterValue": [
                        {
                            "timestamp": self.tick(),
                            "sampledValue": [
                                {
                                    "value": str(wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                }
                            ],
                        }
                    ],
                },
            )
        else:
            await self.call("TransactionEvent", self._event("Updated", wh))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


FAILURE_KINDS: collections.Counter[str] = collections.Counter()


async def connect_all(chargers: list[Charger], parallel: int = 200) -> int:
    """Connect and boot every charger, `parallel` at a time; return the failures."""
    gate = asyncio.Semaphore(parallel)
    failures = 0

    async def one(charger: Charger) -> None:
        nonlocal failures
        async with gate:
            try:
                await charger.connect()
                await charger.boot()
            except Exception as exc:
                failures += 1
                FAILURE_KINDS[f"{type(exc).__name__}: {exc}"[:120]] += 1

    await asyncio.gather(*(one(charger) for charger in chargers))
    return failures


def percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": 0, "p90_ms": 0, "p99_ms": 0, "max_ms": 0}
    ordered = sorted(latencies)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


class Usage:
    """CPU of this process (the load generator) and of the server over a measured span."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> Usage:
        self.wall = time.perf_counter()
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.own = own.ru_utime + own.ru_stime
        self.srv = self.server.cpu_seconds()
        self.labels = {process.pid: "csms workers" for process in self.server.processes}
        self.labels[os.getpid()] = "load generator"
        self.machine = cpu_by_command(self.labels)
        self.ticks = machine_cpu_ticks()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self.wall
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.wall_s = wall
        self.loadgen_cpu = round((own.ru_utime + own.ru_stime - self.own) / wall * 100, 1)
        self.server_cpu_s = self.server.cpu_seconds() - self.srv
        self.server_cpu = round(self.server_cpu_s / wall * 100, 1)
        # Where the machine's CPU went meanwhile (the servers, PostgreSQL, Redis, this load
        # generator, anything else), percent of one core, the busiest first.
        # Other processes of the same name (other users' python) are in their own group.
        after = cpu_by_command(self.labels)
        spent = {
            name: (seconds - self.machine.get(name, 0.0)) / wall * 100
            for name, seconds in after.items()
        }
        self.by_command = {
            name: round(pct, 1)
            for name, pct in sorted(spent.items(), key=lambda item: -item[1])
            if pct >= 0.5
        }
        busy, total = machine_cpu_ticks()
        cores = os.cpu_count() or 1
        # The whole machine, percent of one core (cores x 100 is all of it).
        self.machine_busy = round(
            (busy - self.ticks[0]) / max(total - self.ticks[1], 1) * 100 * cores, 1
        )


# --- workloads --------------------------------------------------------------------------------


async def closed_loop(server: Server, *, chargers: int, seconds: float, version: str) -> dict:
    prefix = f"cl{version[-1]}-{random.randrange(10**6)}-"
    fleet = [Charger(server.url_for(n), f"{prefix}{n}", version) for n in range(chargers)]
    failures = await connect_all(fleet)
    for charger in fleet:
        await charger.start_transaction()
        charger.latencies.clear()
    deadline = time.monotonic() + seconds

    async def loop(charger: Charger) -> None:
        wh = 0
        while time.monotonic() < deadline:
            wh += 10
            await charger.meter_sample(wh)

    with Usage(server) as usage:
        await asyncio.gather(*(loop(charger) for charger in fleet))
    latencies = [value for charger in fleet for value in charger.latencies]
    await asyncio.gather(*(charger.close() for charger in fleet))
    return {
        "chargers": chargers,
        "messages": len(latencies),
        "round_trips_per_s": round(len(latencies) / usage.wall_s, 1),
        **percentiles(latencies),
        "callerrors": sum(charger.errors for charger in fleet),
        "connect_failures": failures,
        "loadgen_cpu_pct": usage.loadgen_cpu,
        "server_cpu_pct": usage.server_cpu,
        "cpu_by_process_pct": usage.by_command,
        "machine_busy_pct": usage.machine_busy,
    }


async def paced(server: Server, *, chargers: int, rate: float, seconds: float) -> dict:
    prefix = f"pc-{random.randrange(10**6)}-"
    fleet = [Charger(server.url_for(n), f"{prefix}{n}", "ocpp1.6") for n in range(chargers)]
    failures = await connect_all(fleet)
    for charger in fleet:
        await charger.start_transaction()
        charger.latencies.clear()
    interval = chargers / rate
    start = time.monotonic() + 0.5

    async def loop(index: int, charger: Charger) -> None:
        due = start + interval * index / chargers
        wh = 0
        while due < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            wh += 10
            await charger.meter_sample(wh)
            due += interval

    with Usage(server) as usage:
        await asyncio.gather(*(loop(n, charger) for n, charger in enumerate(fleet)))
    latencies = [value for charger in fleet for value in charger.latencies]
    await asyncio.gather(*(charger.close() for charger in fleet))
    return {
        "chargers": chargers,
        "target_per_s": rate,
        "messages": len(latencies),
        "achieved_per_s": round(len(latencies) / seconds, 1),
        **percentiles(latencies),
        "callerrors": sum(charger.errors for charger in fleet),
        "connect_failures": failures,
        "loadgen_cpu_pct": usage.loadgen_cpu,
        "server_cpu_pct": usage.server_cpu,
        "cpu_by_process_pct": usage.by_command,
        "machine_busy_pct": usage.machine_busy,
    }


async def idle(server: Server, *, chargers: int, hold: float) -> dict:
    prefix = f"id-{random.randrange(10**6)}-"
    fleet = [Charger(server.url_for(n), f"{prefix}{n}", "ocpp1.6") for n in range(chargers)]
    await asyncio.sleep(1)
    before = server.rss_kib()
    started = time.perf_counter()
    failures = await connect_all(fleet)
    connect_s = time.perf_counter() - started
    heartbeats = sent = 0
    end = time.monotonic() + hold
    while time.monotonic() < end:  # every charger sends one heartbeat per round
        results = await asyncio.gather(
            *(charger.call("Heartbeat", {}) for charger in fleet if charger.ws),
            return_exceptions=True,
        )
        sent += len(results)
        heartbeats += sum(1 for result in results if isinstance(result, dict))
    after = server.rss_kib()
    connected = chargers - failures
    await asyncio.gather(*(charger.close() for charger in fleet))
    return {
        "chargers": chargers,
        "connected": connected,
        "connect_and_boot_s": round(connect_s, 1),
        "heartbeats_sent": sent,
        "heartbeats_answered": heartbeats,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_connection": round((after - before) / max(connected, 1), 1),
    }


async def storm(server: Server, *, chargers: int) -> dict:
    prefix = f"st-{random.randrange(10**6)}-"
    fleet = [Charger(server.url_for(n), f"{prefix}{n}", "ocpp1.6") for n in range(chargers)]
    first_failures = await connect_all(fleet)
    cpu_before_drop = server.cpu_seconds()
    # Everybody drops at once (a site losing power, a server restart behind a proxy) ...
    for charger in fleet:
        if charger.ws is not None:
            charger.ws.transport.abort()
    await asyncio.sleep(1)
    # ... and comes back at once. The load generator's collector is kept out of the way
    # meanwhile: with 10,000 clients its full collections took more of its time than the
    # handshakes, and the server, not the load generator, is what is measured.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        with Usage(server) as usage:
            failures = await connect_all(fleet, parallel=chargers)
    finally:
        gc.enable()
        gc.unfreeze()
    storm_cpu_s = server.cpu_seconds() - cpu_before_drop
    await asyncio.gather(*(charger.close() for charger in fleet))
    return {
        "chargers": chargers,
        "first_connect_failures": first_failures,
        "all_back_and_booted_s": round(usage.wall_s, 1),
        "failures": failures,
        "loadgen_cpu_pct": usage.loadgen_cpu,
        "server_cpu_pct": usage.server_cpu,
        # The server's CPU time per charger: its drop, its reconnect and its boot.
        "server_cpu_ms_per_reconnect": round(storm_cpu_s * 1000 / chargers, 2),
        "failure_kinds": dict(FAILURE_KINDS.most_common(3)),
    }


# --- the run ------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict:
    given = {
        key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
    }
    results: dict = {"machine": machine(), "args": given, "ours": {}, "reference": {}}
    ours = start_ours(
        server=args.server,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workers=args.workers,
    )
    reference = start_reference() if not args.no_reference else None
    try:
        plan = [
            (
                "closed16",
                lambda s: closed_loop(
                    s, chargers=args.chargers, seconds=args.seconds, version="ocpp1.6"
                ),
            ),
            (
                "closed201",
                lambda s: closed_loop(
                    s, chargers=args.chargers, seconds=args.seconds, version="ocpp2.0.1"
                ),
            ),
            (
                "paced",
                lambda s: paced(
                    s, chargers=args.paced_chargers, rate=args.rate, seconds=args.seconds
                ),
            ),
            ("idle", lambda s: idle(s, chargers=args.idle_chargers, hold=args.idle_hold)),
            ("storm", lambda s: storm(s, chargers=args.storm_chargers)),
        ]
        for name, workload in plan:
            if args.only and name not in args.only:
                continue
            for label, server in (("ours", ours), ("reference", reference)):
                if server is None:
                    continue
                if label == "reference" and name in ("idle", "storm") and not args.reference_all:
                    continue  # capacity is ours to show; --reference-all measures it there too
                print(f"-- {name} against {server.name} ...", flush=True)
                results[label][name] = await workload(server)
                print("   ", json.dumps(results[label][name]), flush=True)
    finally:
        ours.stop()
        if reference is not None:
            reference.stop()
    results["ratios"] = {
        name: round(
            results["ours"][name]["round_trips_per_s"]
            / max(results["reference"][name]["round_trips_per_s"], 0.001),
            2,
        )
        for name in ("closed16", "closed201")
        if name in results["ours"] and name in results["reference"]
    }
    return results


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "python": sys.version.split()[0],
    }


def print_table(results: dict) -> None:
    print("\n== results")
    for label in ("ours", "reference"):
        for name, numbers in results[label].items():
            print(f"{label:10} {name:10} {json.dumps(numbers)}")
    for name, ratio in results["ratios"].items():
        print(f"ratio ours/reference {name}: {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", choices=["uvicorn", "daphne"], default="uvicorn", help="as start.sh"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="default: SQLite in a temp dir; a PostgreSQL database given here is recreated",
    )
    parser.add_argument("--redis-url", default="")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the one database, chargers spread over them in turn "
        "(more than 1: PostgreSQL and Redis)",
    )
    parser.add_argument("--chargers", type=int, default=50, help="closed-loop chargers")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--paced-chargers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000, help="paced messages per second")
    parser.add_argument("--idle-chargers", type=int, default=10_000)
    parser.add_argument("--idle-hold", type=float, default=5)
    parser.add_argument("--storm-chargers", type=int, default=10_000)
    parser.add_argument(
        "--only", nargs="*", choices=["closed16", "closed201", "paced", "idle", "storm"]
    )
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument(
        "--reference-all", action="store_true", help="also run idle and storm on the reference"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    raise_fd_limit()
    results = asyncio.run(run(args))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
