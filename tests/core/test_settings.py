"""Settings follow the environment: each case imports config.settings in a fresh interpreter."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Variables these tests set themselves; anything the caller's shell has for them is dropped.
CONTROLLED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "DATA_DIR",
    "DB_PREPARE_THRESHOLD",
)

PROBE = """
import json

import environ

# A developer's .env must not decide these tests: only the environment given here counts.
environ.Env.read_env = lambda *args, **kwargs: None

from django.conf import settings

db = settings.DATABASES["default"]
layer = settings.CHANNEL_LAYERS["default"]
result = {
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "host": db.get("HOST"),
    "port": db.get("PORT"),
    "options": db.get("OPTIONS", {}),
    "conn_health_checks": db.get("CONN_HEALTH_CHECKS"),
    "layer_backend": layer["BACKEND"],
    "layer_config": layer.get("CONFIG", {}),
    "broker_url": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "data_dir": str(settings.DATA_DIR),
}
if db["ENGINE"] == "django.db.backends.sqlite3":
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        result["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(result, default=str))
"""


def load_settings(data_dir: Path, **env: str) -> dict:
    """Import the settings in a subprocess with DATA_DIR and the given variables only."""
    environment = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(data_dir), **env)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_it_uses_sqlite_in_wal_mode_without_database_url(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    found = load_settings(data_dir)

    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(data_dir / "db.sqlite3")
    assert "PRAGMA journal_mode=WAL" in found["options"]["init_command"]
    assert found["journal_mode"] == "wal"
    assert (data_dir / "db.sqlite3").exists()


def test_it_uses_postgresql_from_database_url(tmp_path: Path) -> None:
    found = load_settings(
        tmp_path / "data", DATABASE_URL="postgres://ops:secret@db.example.com:5433/constellation"
    )

    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "constellation"
    assert found["host"] == "db.example.com"
    assert int(found["port"]) == 5433
    assert "init_command" not in found["options"]
    assert found["conn_health_checks"] is True
    # psycopg prepares what runs often (Django's default turns that off).
    assert found["options"]["prepare_threshold"] == 5


def test_preparing_statements_can_be_turned_off_for_a_connection_pooler(tmp_path: Path) -> None:
    url = "postgres://ops:secret@db.example.com:5433/constellation"
    off = load_settings(tmp_path / "off", DATABASE_URL=url, DB_PREPARE_THRESHOLD="none")
    sooner = load_settings(tmp_path / "one", DATABASE_URL=url, DB_PREPARE_THRESHOLD="1")

    assert off["options"]["prepare_threshold"] is None
    assert sooner["options"]["prepare_threshold"] == 1


def test_it_uses_the_in_memory_layer_and_filesystem_broker_without_redis_url(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    found = load_settings(data_dir)

    assert found["layer_backend"] == "apps.core.channel_layers.InMemoryChannelLayer"
    assert found["broker_url"].startswith("filesystem://")
    assert (data_dir / "celery-broker" / "out").is_dir()


def test_it_uses_redis_for_layer_and_broker_with_redis_url(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6379/3"
    found = load_settings(tmp_path / "data", REDIS_URL=url)

    assert found["layer_backend"] == "apps.core.channel_layers.ResilientRedisChannelLayer"
    assert found["layer_config"]["hosts"] == [url]
    assert found["broker_url"] == url


def test_debug_is_off_unless_asked_for(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "a")["debug"] is False
    assert load_settings(tmp_path / "b", DEBUG="true")["debug"] is True


def test_it_generates_the_secret_key_once_in_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_settings(data_dir)["secret_key"]
    second = load_settings(data_dir)["secret_key"]
    key_file = data_dir / "secret_key"

    assert len(first) >= 50
    assert second == first
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings(tmp_path / "other")["secret_key"] != first


def test_secret_key_from_the_environment_wins(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    found = load_settings(data_dir, SECRET_KEY="from-the-environment")

    assert found["secret_key"] == "from-the-environment"
    assert not (data_dir / "secret_key").exists()


def test_it_puts_its_data_in_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    found = load_settings(data_dir)

    assert found["data_dir"] == str(data_dir)
    assert data_dir.is_dir()
