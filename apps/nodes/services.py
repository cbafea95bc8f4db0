"""This node's record: created on first use from the settings, refreshed when a server starts."""

from __future__ import annotations

import socket
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.core.timeutil import utcnow
from apps.nodes import features
from apps.nodes.models import FeatureSwitch, Mode, Node, Role


def this_node() -> Node:
    """Return this node's row, creating it from NODE_NAME / NODE_ROLE the first time."""
    node = Node.objects.filter(local=True).first()
    if node is not None:
        return node
    role = getattr(settings, "NODE_ROLE", Role.TERMINAL)
    if role not in Role.values:
        role = Role.TERMINAL
    try:
        with transaction.atomic():
            return Node.objects.create(
                local=True,
                name=getattr(settings, "NODE_NAME", "") or socket.gethostname(),
                role=role,
                hostname=socket.gethostname(),
                version=node_version(),
                installed_at=utcnow(),
            )
    except IntegrityError:  # another process created it first
        return Node.objects.get(local=True)


def switches(node: Node) -> dict[str, str]:
    """Return the operator's switches of `node`: slug → mode (features not listed are auto)."""
    return dict(FeatureSwitch.objects.filter(node=node).values_list("slug", "mode"))


def set_switch(slug: str, mode: str, *, by: str = "", node: Node | None = None) -> FeatureSwitch:
    """Switch feature `slug` on, off or to auto on this node (or `node`)."""
    if slug not in features.CATALOGUE:
        raise ValueError(f"unknown feature {slug!r}; known: {', '.join(features.CATALOGUE)}")
    if mode not in Mode.values:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(Mode.values)}")
    node = node or this_node()
    switch, _created = FeatureSwitch.objects.update_or_create(
        node=node, slug=slug, defaults={"mode": mode, "changed_by": by}
    )
    features.invalidate()
    return switch


def set_role(role: str, *, node: Node | None = None) -> Node:
    """Give this node (or `node`) another role; its features' defaults follow."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; known: {', '.join(Role.values)}")
    node = node or this_node()
    node.role = role
    node.save(update_fields=["role"])
    features.invalidate()
    return node


def node_addresses() -> list[str]:
    """Return this host's IP addresses as others reach it (the outbound one first)."""
    found: list[str] = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        found.append(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            address = str(info[4][0])
            if address not in found:
                found.append(address)
    except OSError:
        pass
    return found


def node_version() -> str:
    """Return the code's version: pyproject's version and, in a git checkout, the commit."""
    base = Path(settings.BASE_DIR)
    version = "0"
    try:
        for line in (base / "pyproject.toml").read_text().splitlines():
            if line.startswith("version"):
                version = line.split("=", 1)[1].strip().strip('"')
                break
    except OSError:
        pass
    commit = _git_commit(base / ".git")
    return f"{version}+{commit[:8]}" if commit else version


def _git_commit(git: Path) -> str:
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        path = git / ref
        if path.exists():
            return path.read_text().strip()
        common = git / "commondir"
        root = (git / common.read_text().strip()).resolve() if common.exists() else git
        if (root / ref).exists():
            return (root / ref).read_text().strip()
        for line in (root / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except (OSError, IndexError):
        pass
    return ""


def node_refresh(port: int | None = None) -> Node:
    """Record this node's hostname, addresses, version and last sight (at server start)."""
    node = this_node()
    node.hostname = socket.gethostname()
    node.addresses = node_addresses()
    node.version = node_version()
    node.last_seen = utcnow()
    fields = ["hostname", "addresses", "version", "last_seen"]
    if port:
        node.port = port
        fields.append("port")
    node.save(update_fields=fields)
    return node
