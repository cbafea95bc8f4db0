"""Server CPU per charger frame, measured in one process without sockets.

    .venv/bin/python scripts/frame_cost.py                      # both workloads, SQLite
    .venv/bin/python scripts/frame_cost.py --workload tev --profile
    .venv/bin/python scripts/frame_cost.py --database-url postgres://postgres@127.0.0.1/frames

N connected chargers (connections) send their frames through the group-commit executor in
batches of N, exactly as the server's database threads run them (decode, schema, handler,
message log, commit), with no websocket and no event loop: what is left is the per-frame
cost of this code and the database, which machine load does not disturb as much as a
socket benchmark. Workloads: `mv` (OCPP 1.6 MeterValues of a running transaction) and
`tev` (OCPP 2.0.1 TransactionEvent(Updated) with a meter value). `--profile` prints
cProfile's cumulative view. A PostgreSQL database given is dropped and created anew.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Workload:
    """N connections of one version, a transaction running on each, and their next frames."""

    def __init__(self, kind: str, chargers: int) -> None:
        from apps.chargers.models import ChargingStation, RegistrationStatus
        from apps.core.batch import GroupCommitExecutor
        from apps.ocpp.connection import ChargerConnection
        from apps.protocol.versions import V16, V201

        self.kind = kind
        self.executor = GroupCommitExecutor(threads=1)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.message_ids = 0
        version = V16 if kind == "mv" else V201
        self.connections = []
        for n in range(chargers):
            station = ChargingStation.objects.create(
                charger_id=f"COST-{kind}-{n}", registration_status=RegistrationStatus.ACCEPTED
            )
            connection = ChargerConnection(station, version, 65536)
            connection.open()
            self.connections.append(connection)
        self.seq = [0] * chargers
        self.transaction_ids: list[object] = [None] * chargers
        self.batch([(n, self.boot()) for n in range(chargers)])
        if kind == "mv":
            outcomes = self.batch([(n, self.start_transaction()) for n in range(chargers)])
            for n, outcome in enumerate(outcomes):
                self.transaction_ids[n] = json.loads(outcome.replies[0])[2]["transactionId"]
        else:
            self.batch([(n, self.event(n, "Started", 0)) for n in range(chargers)])

    def call(self, action: str, payload: dict) -> str:
        self.message_ids += 1
        return json.dumps([2, f"m{self.message_ids}", action, payload])

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return iso(self.clock)

    def boot(self) -> str:
        if self.kind == "mv":
            return self.call(
                "BootNotification", {"chargePointVendor": "C", "chargePointModel": "F"}
            )
        payload = {"reason": "PowerUp", "chargingStation": {"vendorName": "C", "model": "F"}}
        return self.call("BootNotification", payload)

    def start_transaction(self) -> str:
        payload = {"connectorId": 1, "idTag": "COST", "meterStart": 0, "timestamp": self.tick()}
        return self.call("StartTransaction", payload)

    def event(self, n: int, event_type: str, wh: int) -> str:
        at = self.tick()
        payload = {
            "eventType": event_type,
            "timestamp": at,
            "seqNo": self.seq[n],
            "triggerReason": "Authorized" if event_type == "Started" else "MeterValuePeriodic",
            "transactionInfo": {"transactionId": f"tx-{n}"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": at,
                    "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
                }
            ],
        }
        if event_type == "Started":
            payload["idToken"] = {"idToken": "COST", "type": "ISO14443"}
        self.seq[n] += 1
        return self.call("TransactionEvent", payload)

    def meter_values(self, n: int, wh: int) -> str:
        sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        payload = {
            "connectorId": 1,
            "transactionId": self.transaction_ids[n],
            "meterValue": [{"timestamp": self.tick(), "sampledValue": [sample]}],
        }
        return self.call("MeterValues", payload)

    def round(self, wh: int) -> list:
        if self.kind == "mv":
            frames = [(n, self.meter_values(n, wh)) for n in range(len(self.connections))]
        else:
            frames = [(n, self.event(n, "Updated", wh)) for n in range(len(self.connections))]
        return self.batch(frames)

    def batch(self, frames: list[tuple[int, str]]) -> list:
        jobs = [(Future(), None, self.connections[n].receive, (text,), {}) for n, text in frames]
        for future, *_ in jobs:
            future.set_running_or_notify_cancel()
        self.executor._run_batch(jobs)
        outcomes = [future.result() for future, *_ in jobs]
        refused = [outcome for outcome in outcomes if outcome.error]
        if refused:
            raise SystemExit(f"a frame was refused: {refused[0].replies}")
        return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=["mv", "tev", "both"], default="both")
    parser.add_argument("--chargers", type=int, default=50, help="frames per batch")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="constellation-frames-")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if args.database_url:
        sys.path.insert(0, str(ROOT / "scripts"))
        from bench import fresh_postgres_database

        fresh_postgres_database(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for kind in ("mv", "tev") if args.workload == "both" else (args.workload,):
        workload = Workload(kind, args.chargers)
        for warm_up in range(5):
            workload.round(warm_up)
        profiler = cProfile.Profile() if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for n in range(args.rounds):
            workload.round(100 + n)
        if profiler:
            profiler.disable()
        frames = args.rounds * args.chargers
        cpu = (time.process_time() - cpu) / frames * 1e6
        wall = (time.perf_counter() - wall) / frames * 1e6
        label = {"mv": "1.6 MeterValues", "tev": "2.0.1 TransactionEvent(Updated)"}[kind]
        print(f"{label}: {cpu:.0f} us CPU, {wall:.0f} us wall per frame ({frames} frames)")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
