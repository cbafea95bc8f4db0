"""Which version each update channel moves this node to: plain Python over a list of git refs.

fixed → nothing (only an explicit `--to REF`); stable → the newest release tag `vX.Y.Z`;
latest → the newest tag, pre-releases (`vX.Y.Z-rc.1`) included, in semantic-version order;
unstable → the head of the main branch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIXED = "fixed"
STABLE = "stable"
UNSTABLE = "unstable"
LATEST = "latest"
CHANNELS = (FIXED, STABLE, UNSTABLE, LATEST)

# vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], as semver.org writes it (with the usual "v").
_TAG = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


@dataclass(frozen=True, order=False)
class Version:
    """A release tag's version; compares as semantic versions do (1.0.0-rc.1 < 1.0.0)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def key(self) -> tuple:
        # A release sorts after its pre-releases; pre-release identifiers compare numerically
        # when numeric, numeric ones lower than alphanumeric ones (semver.org, rule 11).
        pre: tuple = (1,) if not self.prerelease else (0, *(_pre_key(p) for p in self.prerelease))
        return (self.major, self.minor, self.patch, pre)


def _pre_key(identifier: str) -> tuple[int, int, str]:
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


def parse_tag(name: str) -> Version | None:
    """Return the version a tag names, or None when it is not a `vX.Y.Z[-pre]` tag."""
    match = _TAG.match(name)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())


@dataclass(frozen=True)
class Refs:
    """What the node's repository knows after a fetch: tag → commit, and main's head."""

    tags: dict[str, str] = field(default_factory=dict)
    main: str = ""
    main_name: str = "origin/main"


@dataclass(frozen=True)
class Target:
    """Where an upgrade goes: the ref's name (a tag, origin/main, what --to named) and commit."""

    ref: str
    commit: str


def target_for(channel: str, refs: Refs) -> Target | None:
    """Return the target of `channel` among `refs`, or None when the channel picks nothing."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    if channel == FIXED:
        return None
    if channel == UNSTABLE:
        return Target(refs.main_name, refs.main) if refs.main else None
    candidates = []
    for name, commit in refs.tags.items():
        version = parse_tag(name)
        if version is None or (channel == STABLE and version.is_prerelease):
            continue
        candidates.append((version.key(), name, commit))
    if not candidates:
        return None
    _key, name, commit = max(candidates)
    return Target(name, commit)


def newest_version(tag_names: list[str]) -> Version | None:
    """Return the highest version among `tag_names` (those that are versions), or None."""
    versions = [v for v in (parse_tag(name) for name in tag_names) if v is not None]
    return max(versions, key=Version.key) if versions else None


def moves_forward(target: Target, *, node_tags: list[str]) -> bool:
    """Tell whether a tag target is newer than every version tag the node already contains.

    A node past v0.3.0-rc.1 on main is not "upgraded" to a v0.2.1 made on a release branch,
    although its history does not contain that tag. A target that is not a version (main's
    head) is judged by the history alone.
    """
    wanted = parse_tag(target.ref)
    have = newest_version(node_tags)
    return wanted is None or have is None or wanted.key() > have.key()
