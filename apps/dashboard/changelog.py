"""The changelog: commits from git history, grouped under the version tags they belong to."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import cache

logger = logging.getLogger(__name__)

# How long a changelog stays cached for one HEAD (tags added meanwhile show after this).
CACHE_SECONDS = 600
GIT_TIMEOUT_S = 10
_SEP = "\x1f"


class ChangelogUnavailable(Exception):
    """Git or the repository is not there: the changelog cannot be read."""


@dataclass(frozen=True)
class Commit:
    sha: str
    short: str
    date: str  # YYYY-MM-DD, the author date
    subject: str


@dataclass
class Release:
    """A version tag and the commits it brought; `tag` is "" for the unreleased ones."""

    tag: str
    date: str = ""
    commits: list[Commit] = field(default_factory=list)


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-c", f"safe.directory={repo}", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChangelogUnavailable(f"git could not be run: {exc}") from exc
    if done.returncode != 0:
        raise ChangelogUnavailable(done.stderr.strip() or f"git {args[0]} failed")
    return done.stdout


def _tags_by_commit(repo: Path) -> dict[str, list[str]]:
    """Return the tags pointing at each commit (annotated tags peeled to their commit)."""
    out = _git(
        repo,
        "for-each-ref",
        "--sort=-creatordate",
        f"--format=%(refname:short){_SEP}%(objectname){_SEP}%(*objectname)",
        "refs/tags",
    )
    tags: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, obj, peeled = line.split(_SEP)
        tags.setdefault(peeled or obj, []).append(name)
    return tags


def read_changelog(repo: Path) -> list[Release]:
    """Return the releases of the repository at `repo`, newest first; raise if unreadable.

    Walking the history from HEAD newest first, each tagged commit opens its tag's section;
    commits before the first tag met (after the last release) are "Unreleased" (tag "").
    """
    if not (repo / ".git").exists():
        raise ChangelogUnavailable(f"{repo} has no .git folder")
    tags = _tags_by_commit(repo)
    out = _git(repo, "log", f"--format=%H{_SEP}%h{_SEP}%as{_SEP}%s", "HEAD")
    releases = [Release(tag="")]
    for line in out.splitlines():
        sha, short, date, subject = line.split(_SEP, 3)
        if sha in tags:
            releases.append(Release(tag=tags[sha][0], date=date))
        releases[-1].commits.append(Commit(sha=sha, short=short, date=date, subject=subject))
    if not releases[0].commits:
        releases.pop(0)
    return releases


def head_of(repo: Path) -> str:
    return _git(repo, "rev-parse", "HEAD").strip()


def changelog_cached(repo: Path) -> list[Release]:
    """Return the changelog, cached for CACHE_SECONDS per repository HEAD."""
    if not (repo / ".git").exists():
        raise ChangelogUnavailable(f"{repo} has no .git folder")
    key = f"changelog:{repo}:{head_of(repo)}"
    releases = cache.get(key)
    if releases is None:
        releases = read_changelog(repo)
        cache.set(key, releases, CACHE_SECONDS)
    return releases
