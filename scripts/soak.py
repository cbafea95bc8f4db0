#!/usr/bin/env python
"""The soak test: chargers over real sockets while the server, PostgreSQL and Redis fail.

    .venv/bin/python scripts/soak.py --chargers 200 --minutes 10 --seed 1

Starts a private PostgreSQL cluster and a private Redis on free ports (temporary folders;
needs the PostgreSQL binaries and redis-server), the server with start.sh's command line
(uvicorn unless --server daphne) and a Celery worker with beat, then runs the chargers, the
faults and the operator's commands of tests/faults/soak.py, and checks that every
acknowledged frame is stored exactly once, that the stations marked connected are those with
a socket and that every command ended. Prints the figures (text, or JSON with --json) and
exits 1 when a check fails. docs/robustness.md ("Soak") has the figures of a run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.processes import PrivatePostgres, PrivateRedis, postgres_bindir  # noqa: E402
from tests.faults.soak import SoakConfig, run_soak, summary  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chargers", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--interval", type=float, default=2.0, help="mean pause between frames")
    parser.add_argument("--kills", type=int, default=0, help="0: one every 100 s")
    parser.add_argument("--pg-restarts", type=int, default=0, help="0: one every 150 s")
    parser.add_argument("--redis-restarts", type=int, default=0, help="0: one every 150 s")
    parser.add_argument("--aborts-per-minute", type=float, default=30.0)
    parser.add_argument("--commands-per-minute", type=float, default=60.0)
    parser.add_argument("--off-at-kill", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()

    config = SoakConfig(
        chargers=args.chargers,
        seconds=args.minutes * 60,
        seed=args.seed,
        server=args.server,
        interval=args.interval,
        kills=args.kills,
        pg_restarts=args.pg_restarts,
        redis_restarts=args.redis_restarts,
        aborts_per_minute=args.aborts_per_minute,
        commands_per_minute=args.commands_per_minute,
        off_at_kill=args.off_at_kill,
    )
    bindir = postgres_bindir()
    redis_server = shutil.which("redis-server")
    if bindir is None or redis_server is None:
        print("needs the PostgreSQL binaries (initdb, pg_ctl) and redis-server", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="constellation-soak-"))
    postgres = PrivatePostgres(bindir)
    redis = PrivateRedis(redis_server, workdir)
    try:
        postgres.init()
        postgres.start()
        redis.start()
        result = run_soak(config, postgres, redis, workdir)
    finally:
        redis.stop()
        postgres.destroy()
        if args.keep:
            print(f"work folder: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2, default=str) if args.json else summary(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
