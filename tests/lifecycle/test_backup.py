"""The database backup upgrade.sh takes, and its restore: SQLite here, PostgreSQL when
DATABASE_URL names one (pg_dump / pg_restore for real)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from apps.lifecycle.backup import BackupError, backup_suffix, database_backup, database_restore


def table_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_the_restore_brings_back_rows_and_drops_tables_made_after_the_backup(
    tmp_path: Path,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lifecycle_backup_probe (name varchar(40))")
        cursor.execute("INSERT INTO lifecycle_backup_probe (name) VALUES ('before')")
    path = database_backup(path=tmp_path / f"db{backup_suffix()}")
    assert path.stat().st_size > 0
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO lifecycle_backup_probe (name) VALUES ('after')")
        cursor.execute("CREATE TABLE lifecycle_backup_later (id integer)")
    tables = table_names()

    database_restore(path=path)

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM lifecycle_backup_probe")
        assert cursor.fetchall() == [("before",)]
    assert table_names() == tables - {"lifecycle_backup_later"}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE lifecycle_backup_probe")


def test_it_refuses_to_restore_a_missing_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no backup at"):
        database_restore(path=tmp_path / "missing.sqlite3")
