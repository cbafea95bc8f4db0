""".env.example documents every variable the settings read, with values the settings accept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / ".env.example"
# env.str("NAME", ...), env.bool("NAME", ...), env.db("NAME", ...) and so on.
READ_IN_SETTINGS = re.compile(r"\benv\.[a-z_]+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
EXAMPLE_LINE = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


def example_values() -> dict[str, str]:
    return {
        match[1]: match[2]
        for line in EXAMPLE.read_text().splitlines()
        if (match := EXAMPLE_LINE.match(line))
    }


def test_it_documents_every_variable_the_settings_read() -> None:
    read = set(READ_IN_SETTINGS.findall((REPO / "config" / "settings.py").read_text()))

    assert "DATABASE_URL" in read  # the pattern still finds what settings.py reads
    assert read - set(example_values()) == set()


def test_it_documents_no_variable_the_settings_ignore() -> None:
    read = set(READ_IN_SETTINGS.findall((REPO / "config" / "settings.py").read_text()))

    assert set(example_values()) - read == set()


def test_its_example_values_are_accepted_by_the_settings(tmp_path: Path) -> None:
    values = example_values()
    values["DATA_DIR"] = str(tmp_path / "data")
    for folder in ("STATIC_ROOT", "MEDIA_ROOT"):
        values[folder] = str(tmp_path / folder.lower())
    environment = {k: v for k, v in os.environ.items() if k not in values}
    environment.update(values, DJANGO_SETTINGS_MODULE="config.settings")
    probe = (
        "import json; import environ; environ.Env.read_env = lambda *a, **k: None; "
        "from django.conf import settings; "
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], settings.DEBUG, "
        "settings.OCPP_HEARTBEAT_INTERVAL, settings.ALLOWED_HOSTS]))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    engine, debug, heartbeat, hosts = json.loads(completed.stdout.strip().splitlines()[-1])
    assert engine == "django.db.backends.postgresql"
    assert debug is False
    assert heartbeat == 300
    assert hosts == ["csms.example.com", "192.168.1.10"]
