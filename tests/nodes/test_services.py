"""This node's record: made once from the settings, refreshed when a server starts."""

from __future__ import annotations

import socket
import subprocess
import tomllib
from datetime import UTC, datetime

import pytest
from django.conf import settings as django_settings

from apps.nodes.models import Node, Role
from apps.nodes.services import node_refresh, node_version, this_node

pytestmark = pytest.mark.django_db


def test_it_creates_this_node_from_the_settings_once(settings) -> None:
    settings.NODE_ROLE = "control"
    settings.NODE_NAME = "pi-by-charger-1"
    node = this_node()
    assert (node.name, node.role, node.local) == ("pi-by-charger-1", Role.CONTROL, True)
    assert node.hostname == socket.gethostname()
    assert node.installed_at is not None
    settings.NODE_ROLE = "satellite"  # later, the record holds the role
    again = this_node()
    assert again.pk == node.pk
    assert again.role == Role.CONTROL
    assert Node.objects.count() == 1


def test_it_names_this_node_after_the_host_by_default(settings) -> None:
    settings.NODE_NAME = ""
    settings.NODE_ROLE = "terminal"
    assert this_node().name == socket.gethostname()


def test_the_version_is_pyprojects_and_the_git_commit() -> None:
    base = django_settings.BASE_DIR
    declared = tomllib.loads((base / "pyproject.toml").read_text())["project"]["version"]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=base, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert node_version() == f"{declared}+{commit[:8]}"


def test_refresh_records_host_version_and_last_sight(settings) -> None:
    settings.NODE_ROLE = "control"
    node = this_node()
    Node.objects.filter(pk=node.pk).update(hostname="old", version="0", addresses=[])
    before = datetime.now(UTC)
    refreshed = node_refresh(port=8443)
    after = datetime.now(UTC)
    stored = Node.objects.get(pk=node.pk)
    assert stored.pk == refreshed.pk
    assert stored.hostname == socket.gethostname()
    assert stored.version == node_version()
    assert stored.port == 8443
    assert stored.last_seen is not None and before <= stored.last_seen <= after
    assert all(isinstance(address, str) and address for address in stored.addresses)


def test_the_server_start_records_the_port_it_was_given(settings) -> None:
    from apps.nodes.apps import _refresh

    settings.NODE_PORT = 8443
    _refresh()
    assert this_node().port == 8443
    settings.NODE_PORT = 0  # not known: the record keeps what it had
    _refresh()
    assert this_node().port == 8443
