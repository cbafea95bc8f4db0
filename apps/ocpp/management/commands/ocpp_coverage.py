"""Write docs/ocpp-coverage.{md,json} and one SVG badge per version from a test-suite run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.ocpp import coverage


class Command(BaseCommand):
    help = (
        "Run the test suite recording the OCPP exchanges it completes over real sockets, then "
        "write the coverage report and badges. --exercised FILE uses an existing record."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--exercised", help="JSON record written by a test run")
        parser.add_argument("--output-dir", default=str(settings.BASE_DIR / "docs"))
        parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (default: tests)")

    def handle(self, *args: object, **options: object) -> None:
        record = options["exercised"]
        if not record:
            record = self._run_tests(list(options["pytest_args"]) or ["tests"])
        exercised = {tuple(item) for item in json.loads(Path(record).read_text())}
        report = coverage.build(exercised)
        out = Path(options["output_dir"])
        (out / "badges").mkdir(parents=True, exist_ok=True)
        (out / "ocpp-coverage.md").write_text(coverage.render_markdown(report))
        (out / "ocpp-coverage.json").write_text(
            json.dumps(coverage.to_json(report), indent=1, sort_keys=True) + "\n"
        )
        for label, rows in report.items():
            (out / "badges" / f"ocpp-{label}.svg").write_text(coverage.render_badge(label, rows))
            proven, total = coverage.summary(rows)
            self.stdout.write(f"OCPP {label}: {proven}/{total} handled and tested")

    def _run_tests(self, pytest_args: list[str]) -> str:
        handle, path = tempfile.mkstemp(suffix=".json", prefix="ocpp-exercised-")
        os.close(handle)
        env = {**os.environ, "OCPP_COVERAGE_FILE": path}
        self.stdout.write(f"running pytest {' '.join(pytest_args)} to record exchanges ...")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                # The tests of the report itself check the report this run produces.
                "--ignore",
                "tests/ocpp/test_coverage_report.py",
                *pytest_args,
            ],
            env=env,
            cwd=settings.BASE_DIR,
            check=False,
        )
        if result.returncode != 0:
            raise CommandError(f"the test run failed (exit {result.returncode}): no report")
        return path
