"""Fixtures: a local origin with releases, and nodes cloned from it (real scripts, real git)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.core.test_start_stop import is_running
from tests.lifecycle.releases import Releases, build_releases, clone_node


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    return build_releases(tmp_path_factory.mktemp("releases"))


@dataclass
class Node:
    root: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run a script of the node (./upgrade.sh, ./start.sh ...) from its folder."""
        return subprocess.run(
            [str(self.root / args[0]), *args[1:]],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(".venv/bin/python", "manage.py", *args, timeout=120)

    def head(self) -> str:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=self.root, capture_output=True, text=True, check=True
        ).stdout.strip()


def make_node(releases: Releases, tmp_path: Path, ref: str) -> Node:
    assert sys.prefix != sys.base_prefix, "run the tests from the project's venv"
    root = clone_node(releases, tmp_path / "node", ref, Path(sys.prefix))
    data_dir = tmp_path / "data"
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    for name in ("SECRET_KEY", "DATABASE_URL", "UPDATE_CHANNEL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return Node(root=root, data_dir=data_dir, env=env)


def stop_node(node: Node) -> None:
    """Whatever the test's outcome, nothing of the node may outlive it."""
    subprocess.run(
        [str(node.root / "stop.sh")],
        cwd=node.root,
        env=node.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    for pid_file in (node.data_dir / "run").glob("*.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        if pid and is_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def node(releases: Releases, tmp_path: Path) -> Iterator[Node]:
    """A node at v0.1.0 (detached at the tag), not started, with its own data folder."""
    made = make_node(releases, tmp_path, "v0.1.0")
    yield made
    stop_node(made)
