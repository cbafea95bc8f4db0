#!/usr/bin/env python
"""Fuzz the OCPP engine for longer than the test suite does.

    .venv/bin/python scripts/fuzz.py --examples 100000
    .venv/bin/python scripts/fuzz.py --examples 20000 --property mutated_frames --seed 7

The seed printed first reproduces a run (with the same --batch).

Runs the engine properties of tests/ocpp/test_fuzz.py (random text, random JSON, mutated
frames of every action of every version, valid requests) with `--examples` examples each,
and prints per property how many frames were tried, how long it took and how they were
answered. On a failure hypothesis prints the smallest frame it found that breaks the
property; the exit status is then 1. No database and no server are needed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The handler registries import the models: settings must load, nothing is written.
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="constellation-fuzz-"))
    import django

    django.setup()


def run_property(name: str, examples: int, batch: int, seed: int) -> tuple[bool, Counter, float]:
    """Run one property in batches; return (passed, answers by kind, seconds).

    Hypothesis slows down and grows in memory over one very long run (it remembers every
    choice it made), so the examples run in batches of `batch`, each with its own seed.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as fixed_seed

    from tests.ocpp.test_fuzz import ENGINE_PROPERTIES

    prop = ENGINE_PROPERTIES[name]
    answers: Counter = Counter()

    def body(**drawn: Any) -> None:
        answers[prop.check(**drawn)] += 1

    started = time.monotonic()
    done = 0
    while done < examples:
        size = min(batch, examples - done)
        test = settings(
            max_examples=size,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )(given(**prop.strategies)(body))
        test = fixed_seed(seed + done)(test)
        try:
            test()
        except Exception:
            traceback.print_exc()
            print(f"   (batch seed {seed + done})")
            return False, answers, time.monotonic() - started
        done += size
        print(f"   {done}/{examples} in {time.monotonic() - started:.0f} s", flush=True)
    return True, answers, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples per property")
    parser.add_argument("--property", action="append", help="run only this one (repeatable)")
    parser.add_argument("--batch", type=int, default=5_000, help="examples per hypothesis run")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the first batch (default: random)"
    )
    args = parser.parse_args()
    _setup_django()
    import logging

    # The engine logs every handler failure the stubs provoke; the summary is what counts.
    logging.disable(logging.CRITICAL)
    from tests.ocpp.test_fuzz import ENGINE_PROPERTIES

    names = args.property or list(ENGINE_PROPERTIES)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"== seed {seed}", flush=True)
    failed = []
    total_frames, total_seconds = 0, 0.0
    for name in names:
        print(f"== {name}: {args.examples} examples", flush=True)
        passed, answers, seconds = run_property(name, args.examples, args.batch, seed)
        frames = sum(answers.values())
        total_frames += frames
        total_seconds += seconds
        print(f"   {'passed' if passed else 'FAILED'}: {frames} frames in {seconds:.0f} s")
        for label, count in answers.most_common():
            print(f"   {count:>9}  {label}")
        if not passed:
            failed.append(name)
    print(
        f"== {total_frames} frames in {total_seconds:.0f} s; "
        + (f"FAILED: {', '.join(failed)}" if failed else "every property held")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
