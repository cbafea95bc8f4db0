"""A local "origin" for upgrade tests: a bare git repository made from a copy of this tree.

History (each release sets pyproject's version; migrations are added to apps/lifecycle):

    v0.1.0 ── v0.2.0 ── v0.3.0-rc.1 (annotated) ── main head ("after the rc")
                 └── v0.2.1 (a release branch: a good migration, then one that raises)

So stable → v0.2.1, latest → v0.3.0-rc.1, unstable → main's head, fixed → nothing.
v0.2.0 adds a table `lifecycle_probe_v020`; v0.2.1 adds `lifecycle_probe_v021`, then fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.core.test_start_stop import copy_project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Bot",
    "GIT_AUTHOR_EMAIL": "release@example.invalid",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "release@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@dataclass(frozen=True)
class Releases:
    origin: Path  # the bare repository
    commits: dict[str, str]  # v0.1.0, v0.2.0, v0.2.1, v0.3.0-rc.1, main → commit


def _set_version(src: Path, version: str) -> None:
    path = src / "pyproject.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', path.read_text())
    path.write_text(text)


def _leaf_migration(src: Path) -> str:
    names = sorted(p.stem for p in (src / "apps/lifecycle/migrations").glob("[0-9]*.py"))
    return names[-1]


def _add_migration(src: Path, name: str, body: str) -> None:
    parent = _leaf_migration(src)
    (src / "apps/lifecycle/migrations" / f"{name}.py").write_text(
        "from django.db import migrations\n\n"
        f"{body}\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('lifecycle', '{parent}')]\n"
        "    operations = OPERATIONS\n"
    )


def _commit(src: Path, message: str) -> str:
    git(src, "add", "-A")
    git(src, "commit", "--quiet", "--no-verify", "-m", message)
    return git(src, "rev-parse", "HEAD")


def build_releases(base: Path) -> Releases:
    """Make the history above from a copy of `tree`; return the bare repository."""
    src = base / "src"
    copy_project(src)
    git(src, "init", "--quiet", "--initial-branch=main")
    _set_version(src, "0.1.0")
    commits = {"v0.1.0": _commit(src, "release 0.1.0")}
    git(src, "tag", "v0.1.0")

    _set_version(src, "0.2.0")
    _add_migration(
        src,
        "0900_probe_v020",
        "OPERATIONS = [migrations.RunSQL('CREATE TABLE lifecycle_probe_v020 (id integer)',"
        " 'DROP TABLE lifecycle_probe_v020')]",
    )
    commits["v0.2.0"] = _commit(src, "release 0.2.0: a new table")
    git(src, "tag", "v0.2.0")

    git(src, "checkout", "--quiet", "-b", "release-0.2")
    _set_version(src, "0.2.1")
    _add_migration(
        src,
        "0901_probe_v021",
        "OPERATIONS = [migrations.RunSQL('CREATE TABLE lifecycle_probe_v021 (id integer)',"
        " 'DROP TABLE lifecycle_probe_v021')]",
    )
    _add_migration(
        src,
        "0902_broken",
        "def fail(apps, schema_editor):\n"
        "    raise RuntimeError('this release is broken on purpose')\n\n"
        "OPERATIONS = [migrations.RunPython(fail)]",
    )
    commits["v0.2.1"] = _commit(src, "release 0.2.1: a migration that fails")
    git(src, "tag", "v0.2.1")

    git(src, "checkout", "--quiet", "main")
    _set_version(src, "0.3.0rc1")
    commits["v0.3.0-rc.1"] = _commit(src, "release candidate 0.3.0-rc.1")
    git(src, "tag", "-a", "v0.3.0-rc.1", "-m", "a pre-release")
    _set_version(src, "0.3.0.dev0")
    (src / "CHANGES-after-rc.txt").write_text("work after the release candidate\n")
    commits["main"] = _commit(src, "work after the rc")
    # Not versions: ignored by every channel.
    git(src, "tag", "nightly-build")
    git(src, "tag", "v1.0")

    origin = base / "origin.git"
    git(base, "clone", "--quiet", "--bare", str(src), str(origin))
    return Releases(origin=origin, commits=commits)


def clone_node(releases: Releases, dest: Path, ref: str, venv: Path) -> Path:
    """Clone a node of `releases` at `ref`, sharing `venv` (its install stamps match)."""
    git(dest.parent, "clone", "--quiet", str(releases.origin), str(dest))
    git(dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", ref)
    (dest / ".venv").symlink_to(venv)
    return dest
