"""Two fresh nodes (two data folders, two SQLite databases), `manage.py userdata` between them.

An export from one imported into the other reproduces the objects; a conflicting import
changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

SNAPSHOT = (
    "import json; from tests.userdata.data import snapshot; "
    "print(json.dumps(snapshot(), default=str))"
)
USERS = (
    "from django.contrib.auth import get_user_model as g; "
    "g().objects.create_superuser('root', 'root@example.com', 'x' * 20); "
    "g().objects.create_user('alice')"
)


class Node:
    def __init__(self, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        self.env["DATA_DIR"] = str(data_dir)
        data_dir.mkdir()
        self.manage("migrate", "-v0")
        self.manage("shell", "-c", USERS)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def snapshot(self) -> dict:
        return json.loads(self.manage("shell", "-v0", "-c", SNAPSHOT).stdout)

    def export(self, path: Path) -> dict:
        self.manage("userdata", "export", "--user", "root", "--output", str(path))
        return json.loads(path.read_text())


def test_an_export_imported_into_a_fresh_node_reproduces_it_and_a_conflict_changes_nothing(
    tmp_path,
):
    source = Node(tmp_path / "source")
    target = Node(tmp_path / "target")
    source.manage("shell", "-c", "from tests.userdata.data import build_graph; build_graph()")
    bundle_file = tmp_path / "bundle.json"
    bundle = source.export(bundle_file)
    assert len(bundle["objects"]["rfid.idtag"]) == 3

    dry = target.manage("userdata", "import", str(bundle_file), "--user", "root", "--dry-run")
    assert "create    rfid.idtag CARD-1" in dry.stdout and "nothing was written" in dry.stdout
    assert target.snapshot()["stations"] == []

    done = target.manage("userdata", "import", str(bundle_file), "--user", "root")
    assert "Imported." in done.stdout and "Total: create 12." in done.stdout
    assert target.snapshot() == source.snapshot()
    again = target.export(tmp_path / "again.json")
    assert again["objects"] == bundle["objects"]

    # The same station with another vendor: a conflict, and nothing else of the file lands.
    bundle["objects"]["chargers.chargingstation"][0]["vendor"] = "Other"
    bundle["objects"]["chargers.site"].append({"name": "New", "address": "", "time_zone": "UTC"})
    conflicting = tmp_path / "conflicting.json"
    conflicting.write_text(json.dumps(bundle))
    before = target.snapshot()

    refused = target.manage("userdata", "import", str(conflicting), "--user", "root", check=False)

    assert refused.returncode != 0
    assert "conflict  chargers.chargingstation CP-1" in refused.stdout
    assert "vendor: 'ACME' -> 'Other'" in refused.stdout
    assert "Nothing was imported" in refused.stderr
    assert target.snapshot() == before


def test_the_command_refuses_a_bad_file_and_an_unknown_user(tmp_path):
    node = Node(tmp_path / "node")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "constellation-userdata", "version": 99, "objects": {}}')

    version = node.manage("userdata", "import", str(bad), "--user", "root", check=False)
    nobody = node.manage("userdata", "export", "--user", "ghost", check=False)

    assert version.returncode == 1 and "version 99 is not supported" in version.stderr
    assert nobody.returncode == 1 and "No user 'ghost'" in nobody.stderr
