"""The OCPP coverage report backs every claim the README makes, and stays in step with code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.core.management import call_command

from apps.ocpp import coverage

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "ocpp-coverage.json"
VERSIONS = ["1.6", "2.0.1", "2.1"]
SECTIONS = {"Charger → CSMS": coverage.IN, "CSMS → charger": coverage.OUT}


def readme_claims() -> set[tuple[str, str, str]]:
    """Return (version, direction, action) for every ✅ in the README's OCPP tables."""
    claims = set()
    direction = None
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("#"):
            direction = None  # a new section ends the OCPP tables
        heading = re.match(r"^\*\*(.+)\*\*$", line.strip())
        if heading:
            direction = SECTIONS.get(heading.group(1))
            continue
        row = re.match(r"^\| `(\w+)` \|(.+)\|$", line.strip())
        if row and direction:
            cells = [cell.strip() for cell in row.group(2).split("|")][: len(VERSIONS)]
            for version, cell in zip(VERSIONS, cells, strict=True):
                if cell == "✅":
                    claims.add((version, direction, row.group(1)))
    return claims


def committed_report() -> dict[str, list[coverage.ActionCoverage]]:
    return coverage.from_json(json.loads(COMMITTED.read_text()))


def test_the_readme_claims_something():
    assert len(readme_claims()) > 50


def test_every_readme_claim_is_handled_and_tested_in_the_report():
    proven = {
        (version, row.direction, row.action)
        for version, rows in committed_report().items()
        for row in rows
        if row.proven
    }
    unbacked = sorted(readme_claims() - proven)
    assert unbacked == [], f"README claims actions the coverage report does not back: {unbacked}"


def test_the_committed_report_says_what_the_code_handles():
    report = committed_report()
    exercised = {
        (f"ocpp{version}", row.direction, row.action)
        for version, rows in report.items()
        for row in rows
        if row.exercised
    }
    assert coverage.to_json(coverage.build(exercised)) == coverage.to_json(report), (
        "docs/ocpp-coverage.json is stale: run manage.py ocpp_coverage"
    )


def test_the_command_writes_report_and_badges(tmp_path):
    record = tmp_path / "exercised.json"
    record.write_text(json.dumps([["ocpp1.6", "in", "Heartbeat"], ["ocpp1.6", "out", "Reset"]]))
    call_command("ocpp_coverage", "--exercised", str(record), "--output-dir", str(tmp_path))
    data = json.loads((tmp_path / "ocpp-coverage.json").read_text())
    rows = {(row["direction"], row["action"]): row for row in data["1.6"]}
    assert rows[("in", "Heartbeat")] == {
        "action": "Heartbeat",
        "direction": "in",
        "handled": True,
        "exercised": True,
    }
    assert rows[("out", "Reset")]["exercised"] and rows[("out", "Reset")]["handled"]
    assert not rows[("in", "Authorize")]["exercised"]
    assert not rows[("out", "SetChargingProfile")]["handled"]  # not served yet
    assert "| `Heartbeat` | ✅ | ✅ |" in (tmp_path / "ocpp-coverage.md").read_text()
    badge = (tmp_path / "badges" / "ocpp-1.6.svg").read_text()
    assert badge.startswith("<svg") and "2/" in badge
    assert {p.name for p in (tmp_path / "badges").iterdir()} == {
        "ocpp-1.6.svg",
        "ocpp-2.0.1.svg",
        "ocpp-2.1.svg",
    }
