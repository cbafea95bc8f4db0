"""The node's git checkout, read with git itself: refs after a fetch, HEAD, ancestry, names."""

from __future__ import annotations

import subprocess
from pathlib import Path

from apps.lifecycle.channels import Refs


class RepositoryError(Exception):
    """git failed or the folder is not a git checkout; the message says which."""


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepositoryError(f"git {' '.join(args)}: {exc}") from exc
    if check and result.returncode != 0:
        detail = result.stderr.strip() or f"exit {result.returncode}"
        raise RepositoryError(f"git {' '.join(args)}: {detail}")
    return result


def repo_refs(*, root: Path, remote: str = "origin", branch: str = "main") -> Refs:
    """Return the tags (peeled to their commits) and the remote main branch's head."""
    listed = _git(
        root,
        "for-each-ref",
        "--format=%(refname:short)%00%(objectname)%00%(*objectname)",
        "refs/tags",
    ).stdout
    tags: dict[str, str] = {}
    for line in listed.splitlines():
        name, obj, peeled = [*line.split("\0"), "", ""][:3]
        if name:
            tags[name] = peeled or obj  # an annotated tag points at its tag object
    main_name = f"{remote}/{branch}"
    return Refs(tags=tags, main=repo_resolve(root=root, ref=main_name) or "", main_name=main_name)


def repo_resolve(*, root: Path, ref: str) -> str | None:
    """Return the commit `ref` names, or None when it names none."""
    if not ref or ref.startswith("-"):  # never let a ref be read as an option
        return None
    result = _git(
        root,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{ref}^{{commit}}",
        check=False,
    )
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def repo_head(*, root: Path) -> str:
    """Return the commit checked out."""
    commit = repo_resolve(root=root, ref="HEAD")
    if commit is None:
        raise RepositoryError(f"{root} has no commit checked out")
    return commit


def repo_contains(*, root: Path, ancestor: str, commit: str) -> bool:
    """Tell whether `commit` already contains `ancestor` (is it, or a descendant of it)."""
    result = _git(root, "merge-base", "--is-ancestor", ancestor, commit, check=False)
    if result.returncode not in (0, 1):
        raise RepositoryError(f"git merge-base: {result.stderr.strip()}")
    return result.returncode == 0


def repo_describe(*, root: Path, commit: str) -> str:
    """Return a readable name of `commit`: `v0.2.0`, `v0.2.0-3-gabc1234`, or its short hash."""
    # Named after the nearest version tag, not after any tag (a "nightly" one, say).
    result = _git(
        root, "describe", "--tags", "--always", "--match=v[0-9]*.[0-9]*.[0-9]*", commit, check=False
    )
    return result.stdout.strip() or commit[:12]


def repo_tags_merged(*, root: Path, commit: str) -> list[str]:
    """Return the tags whose commits `commit` contains."""
    return _git(root, "tag", "--merged", commit).stdout.split()
