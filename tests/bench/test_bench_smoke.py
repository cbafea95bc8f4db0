"""A tiny run of the load benchmark, so it never rots. It checks counts, never speed."""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench()


@pytest.mark.slow
def test_every_workload_runs_against_both_servers_and_everything_is_stored(bench):
    ours = bench.start_ours()
    reference = bench.start_reference()
    try:

        async def run() -> dict:
            results = {}
            for label, server in (("ours", ours), ("reference", reference)):
                results[label] = {
                    "closed16": await bench.closed_loop(
                        server, chargers=3, seconds=1, version="ocpp1.6"
                    ),
                    "closed201": await bench.closed_loop(
                        server, chargers=3, seconds=1, version="ocpp2.0.1"
                    ),
                    "paced": await bench.paced(server, chargers=4, rate=40, seconds=1),
                    "idle": await bench.idle(server, chargers=10, hold=0.5),
                    "storm": await bench.storm(server, chargers=10),
                }
            return results

        results = asyncio.run(run())
        database = ours.data_dir / "db.sqlite3"
        with sqlite3.connect(database) as db:
            readings = db.execute("SELECT COUNT(*) FROM transactions_metervalue").fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM transactions_transactionevent").fetchone()
    finally:
        ours.stop()
        reference.stop()
    for label in ("ours", "reference"):
        numbers = results[label]
        for name in ("closed16", "closed201", "paced"):
            assert numbers[name]["messages"] > 0, (label, name)
            assert numbers[name]["callerrors"] == 0, (label, name)
            assert numbers[name]["connect_failures"] == 0, (label, name)
        assert numbers["idle"]["connected"] == 10
        assert numbers["idle"]["heartbeats_answered"] >= 10
        assert numbers["storm"]["failures"] == 0
    ours_numbers = results["ours"]
    # Every acknowledged reading is in the database, once: MeterValues (closed and paced)
    # plus one reading in each acknowledged TransactionEvent, Started events included.
    acknowledged = (
        ours_numbers["closed16"]["messages"]
        + ours_numbers["paced"]["messages"]
        + ours_numbers["closed201"]["messages"]
        + 3
    )
    assert readings == acknowledged
    assert events[0] == ours_numbers["closed201"]["messages"] + 3
