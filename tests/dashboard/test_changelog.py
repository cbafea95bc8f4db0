"""/changelog/: git history grouped by version tags, cached per HEAD, readable by anyone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse

from apps.dashboard.changelog import ChangelogUnavailable, changelog_cached, read_changelog

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_AUTHOR_DATE": "2025-03-01T10:00:00Z",
        "GIT_COMMITTER_DATE": "2025-03-01T10:00:00Z",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(repo),
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def commit(repo: Path, subject: str) -> None:
    git(repo, "commit", "--allow-empty", "-q", "-m", subject)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "Project skeleton")
    commit(tmp_path, "First charger")
    git(tmp_path, "tag", "v0.1.0")
    commit(tmp_path, "Transactions <b>and</b> meter values")
    git(tmp_path, "tag", "-a", "v0.2.0", "-m", "second release")
    commit(tmp_path, "Dashboard")
    cache.clear()
    return tmp_path


def test_it_groups_commits_under_their_version_tags(repo):
    releases = read_changelog(repo)
    assert [release.tag for release in releases] == ["", "v0.2.0", "v0.1.0"]
    assert [[c.subject for c in release.commits] for release in releases] == [
        ["Dashboard"],
        ["Transactions <b>and</b> meter values"],
        ["First charger", "Project skeleton"],
    ]
    assert releases[1].date == "2025-03-01"


def test_a_repository_without_tags_is_all_unreleased(tmp_path):
    git(tmp_path, "init", "-q")
    commit(tmp_path, "Only commit")
    assert [(r.tag, len(r.commits)) for r in read_changelog(tmp_path)] == [("", 1)]


def test_it_is_cached_per_head(repo):
    first = changelog_cached(repo)
    git(repo, "tag", "v0.3.0")  # a new tag alone does not change HEAD: the cache holds
    assert changelog_cached(repo) == first
    commit(repo, "Favorites")  # a new HEAD: read again
    assert changelog_cached(repo)[0].commits[0].subject == "Favorites"


def test_the_page_is_readable_without_login(client, repo, settings, db):
    settings.CHANGELOG_REPOSITORY = repo
    response = client.get(reverse("changelog"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Unreleased" in html and "v0.2.0" in html and "v0.1.0" in html
    assert "Transactions &lt;b&gt;and&lt;/b&gt; meter values" in html  # escaped


def test_without_a_git_folder_it_says_so(client, tmp_path, settings, db):
    settings.CHANGELOG_REPOSITORY = tmp_path
    with pytest.raises(ChangelogUnavailable):
        changelog_cached(tmp_path)
    response = client.get(reverse("changelog"))
    assert response.status_code == 200
    assert "The changelog is not available" in response.content.decode()


def test_without_git_it_says_so(client, repo, settings, monkeypatch, db):
    settings.CHANGELOG_REPOSITORY = repo
    monkeypatch.setenv("PATH", str(repo / "no-bin"))
    response = client.get(reverse("changelog"))
    assert response.status_code == 200
    assert "The changelog is not available" in response.content.decode()
