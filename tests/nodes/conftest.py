"""Fixtures of the node tests: a fake device tree, stand-in programs on PATH, fresh states."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.nodes import features

# The clean-start test serves the project in its own process, as the fault tests do.
from tests.faults.conftest import make_server, sqlite_template, sqlite_url  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_states() -> Iterator[None]:
    """Feature states are cached for a few seconds: every test starts and ends without."""
    features.invalidate()
    yield
    features.invalidate()


class DevTree:
    """A fake root for detection (settings.NODE_DEV_ROOT): /dev, /sys and programs."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root
        self.bin_dir = bin_dir

    def add(self, path: str) -> Path:
        """Create the file `path` (absolute, as on the node) under the root."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        features.invalidate()
        return target

    def program(self, name: str) -> Path:
        """Put a stand-in executable `name` on PATH (it records nothing: detection only)."""
        target = self.bin_dir / name
        target.write_text("#!/bin/sh\nexit 0\n")
        target.chmod(target.stat().st_mode | stat.S_IXUSR)
        features.invalidate()
        return target

    def wireless(self, interface: str) -> None:
        (self.root / "sys/class/net" / interface / "wireless").mkdir(parents=True)
        features.invalidate()


@pytest.fixture
def dev_tree(tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch) -> DevTree:
    """An empty node: no devices, no desktop, only stand-in programs on PATH."""
    root = tmp_path / "root"
    root.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    settings.NODE_DEV_ROOT = str(root)
    settings.RFID_READER = "auto"
    settings.RFID_SERIAL_PORT = ""
    settings.RFID_SPI_BUS = 0
    settings.RFID_SPI_DEVICE = 0
    settings.LCD_I2C_BUS = 1
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert os.listdir(root) == []
    return DevTree(root, bin_dir)
