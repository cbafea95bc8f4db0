"""Back up the database before an upgrade and put it back on a rollback.

SQLite: sqlite3's online backup (consistent even with the write-ahead log, and the restore
replaces every page, so tables a failed migration added are gone too). PostgreSQL: `pg_dump`
in its custom format; the restore drops this database's tables, then `pg_restore`s the dump.
Both run while the node's server is stopped (upgrade.sh stops it first).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from django.db import connections


class BackupError(Exception):
    """The backup or the restore failed; the message says why."""


def _engine(using: str) -> str:
    engine = connections[using].settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"no backup method for the database engine {engine}")


def backup_suffix(*, using: str = "default") -> str:
    return {"sqlite": ".sqlite3", "postgresql": ".pgdump"}[_engine(using)]


def database_backup(*, path: Path, using: str = "default") -> Path:
    """Copy the database into `path` (a new file) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _engine(using) == "sqlite":
        _sqlite_copy(Path(connections[using].settings_dict["NAME"]), path)
    else:
        _pg_run(["pg_dump", "--format=custom", "--no-owner", f"--file={path}"], using)
    if not path.exists() or path.stat().st_size == 0:
        raise BackupError(f"the backup {path} is empty")
    return path


def database_restore(*, path: Path, using: str = "default") -> None:
    """Make the database what the backup at `path` holds."""
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    connections[using].close()
    if _engine(using) == "sqlite":
        _sqlite_copy(path, Path(connections[using].settings_dict["NAME"]))
        return
    connection = connections[using]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")
    connection.close()
    _pg_run(
        ["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error", str(path)], using
    )


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"no database at {source}")
    try:
        src = sqlite3.connect(source)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"sqlite backup {source} → {target}: {exc}") from exc


def _pg_run(argv: list[str], using: str) -> None:
    db = connections[using].settings_dict
    env = dict(os.environ)
    # libpq's variables: the password never appears on a command line.
    for key, name in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("NAME", "PGDATABASE"),
    ):
        if db.get(key):
            env[name] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if argv[0] == "pg_restore":
        argv = [*argv[:-1], f"--dbname={env.get('PGDATABASE', '')}", argv[-1]]
    try:
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=3600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{argv[0]}: {exc}") from exc
    if result.returncode != 0:
        raise BackupError(f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[-500:]}")
