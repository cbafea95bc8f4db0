"""Release notes: CHANGELOG.md parsed strictly, shown on /changelog/ and in the admin."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from apps.dashboard.changelog import (
    PLANNED,
    RELEASED,
    UNRELEASED,
    ChangelogError,
    parse_changelog,
    read_changelog,
    render_inline,
)

REAL_CHANGELOG = Path(django_settings.BASE_DIR) / "CHANGELOG.md"

SAMPLE = """\
# Changelog

Notes for operators.
Second line of the same paragraph.

Another paragraph.

## [1.1.0] - planned

Integrations, in progress.

### Added

- Slack notifications.

## [Unreleased]

### Added

- Energy accounts with a ledger
  that is never rewritten.
- Tariffs.

### Fixed

- A lost answer adds no second row.

## [1.0.0] - 2026-02-01 [YANKED]

### Security

- Hashed station passwords.

## [0.9.0] - 2026-01-15

The first version.

[1.0.0]: https://example.org/releases/1.0.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_it_parses_releases_sections_and_entries():
    changelog = parse_changelog(SAMPLE)
    assert changelog.intro == (
        "Notes for operators. Second line of the same paragraph.",
        "Another paragraph.",
    )
    planned, unreleased, yanked, first = changelog.releases
    assert (planned.version, planned.status, planned.summary) == (
        "1.1.0",
        PLANNED,
        "Integrations, in progress.",
    )
    assert [(s.kind, s.entries) for s in planned.sections] == [("Added", ("Slack notifications.",))]
    assert (unreleased.version, unreleased.status) == ("", UNRELEASED)
    assert [(s.kind, s.entries) for s in unreleased.sections] == [
        ("Added", ("Energy accounts with a ledger that is never rewritten.", "Tariffs.")),
        ("Fixed", ("A lost answer adds no second row.",)),
    ]
    assert (yanked.version, yanked.status, yanked.date, yanked.yanked) == (
        "1.0.0",
        RELEASED,
        dt.date(2026, 2, 1),
        True,
    )
    assert yanked.url == "https://example.org/releases/1.0.0"
    assert (first.version, first.summary, first.sections, first.yanked) == (
        "0.9.0",
        "The first version.",
        (),
        False,
    )


def test_the_real_changelog_parses_with_its_versions_in_order():
    changelog = read_changelog(REAL_CHANGELOG)
    releases = changelog.releases
    statuses = [release.status for release in releases]
    assert PLANNED in statuses and UNRELEASED in statuses and RELEASED in statuses
    # planned (newest first), then Unreleased, then past releases newest first
    assert statuses == sorted(statuses, key=[PLANNED, UNRELEASED, RELEASED].index)
    versions = [r.version for r in releases if r.version]
    keys = [tuple(int(n) for n in v.split("-")[0].split(".")) for v in versions]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    past = [r for r in releases if r.status == RELEASED]
    assert all(r.date is not None for r in past)
    assert [r.date for r in past] == sorted((r.date for r in past), reverse=True)
    assert all(release.sections for release in releases)
    # the current version of the code is a past release or the next planned one
    pyproject = (Path(django_settings.BASE_DIR) / "pyproject.toml").read_text()
    assert f'version = "{past[0].version}"' in pyproject


def test_inline_markdown_is_rendered_and_everything_else_escaped():
    html = render_inline(
        "**Odoo** and *Slack*, `manage.py node --json` and _sigils_: "
        "[guide](https://example.org/a_b*c) <script>alert(1)</script> & 2*3*4"
    )
    assert html == (
        "<strong>Odoo</strong> and <em>Slack</em>, <code>manage.py node --json</code> and "
        '<em>sigils</em>: <a href="https://example.org/a_b*c">guide</a> '
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 2*3*4"
    )
    assert render_inline("`<b>`") == "<code>&lt;b&gt;</code>"


_ALLOWED_TAG = re.compile(r'</?(?:code|strong|em)>|<a href="(?:https?://|mailto:)[^"<>]*">|</a>')


_PIECES = [*"<>&\"'`*_[]()/:ab ", "https://", "javascript:", "<script>", "onerror="]


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_no_markup_of_the_files_own_reaches_the_page(text):
    try:
        html = render_inline(text)
    except ChangelogError:
        return  # a link to a refused address: the whole file is refused
    assert "<" not in _ALLOWED_TAG.sub("", html) and ">" not in _ALLOWED_TAG.sub("", html)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "docs/billing.md", "data:text/html,x"])
def test_a_link_to_anything_but_http_or_mailto_is_an_error(url):
    with pytest.raises(ChangelogError, match="http"):
        render_inline(f"[click]({url})", line=7)


MALFORMED = [
    ("## [Unreleased]\n\n### Added\n\n- x\n", 1, "# Changelog"),
    ("# Changelog\n\n## Unreleased\n\n### Added\n\n- x\n", 3, "release heading"),
    ("# Changelog\n\n## [1.0.0] - 2026-13-01\n\n### Added\n\n- x\n", 3, "not a date"),
    ("# Changelog\n\n## [1.0.0] - soon\n\n### Added\n\n- x\n", 3, "release heading"),
    ("# Changelog\n\n## [Unreleased]\n\n### New\n\n- x\n", 5, "unknown section"),
    ("# Changelog\n\n## [Unreleased]\n\n- x\n\n### Added\n\n- y\n", 5, "outside"),
    ("# Changelog\n\n## [Unreleased]\n\n### Added\n\nloose text\n", 7, "not an entry"),
    ("# Changelog\n\n## [Unreleased]\n\n### Added\n\n### Fixed\n\n- x\n", 3, "no entries"),
    ("# Changelog\n\n## [Unreleased]\n\n### Added\n- a\n### Added\n- b\n", 7, "second Added"),
    ("# Changelog\n\n### Added\n\n- x\n", 3, "before the first release"),
    ("# Changelog\n\n#### Added\n", 3, "not a release or section"),
    ("# Changelog\n\n## [1.0.0] - planned\n", 3, "neither a summary nor sections"),
    (
        "# Changelog\n\n## [1.0.0] - 2026-01-01\n\nA.\n\n## [1.1.0] - 2026-02-01\n\nB.\n",
        7,
        "newest first",
    ),
    (
        "# Changelog\n\n## [1.1.0] - 2026-01-01\n\nA.\n\n## [1.0.0] - 2026-02-01\n\nB.\n",
        7,
        "dated after",
    ),
    ("# Changelog\n\n## [1.0.0] - 2026-01-01\n\nA.\n\n## [1.0.0] - 2025-01-01\n\nB.\n", 7, "twice"),
    ("# Changelog\n\n## [1.0.0] - 2026-01-01\n\nA.\n\n## [Unreleased]\n\nB.\n", 7, "planned first"),
    ("# Changelog\n\n## [Unreleased]\n\nA.\n\n## [2.0.0] - planned\n\nB.\n", 7, "planned first"),
    ("# Changelog\n\n## [1.0.0] - planned\n\nA.\n\n## [1.0.0] - 2026-01-01\n\nB.\n", 7, "twice"),
    ("# Changelog\n\n## [Unreleased]\n\nA.\n\n[x]: https://e.org\n\ntext\n", 9, "link definitions"),
    ("# Changelog\n\n## [Unreleased]\n\n### Added\n\n- a\n- [b](javascript:x)\n", 8, "http"),
    ("# Changelog\n\n## [Unreleased]\n\nSee [b](javascript:x).\n", 3, "http"),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_a_malformed_file_is_refused_with_its_line(text, line, message):
    with pytest.raises(ChangelogError, match=message) as raised:
        parse_changelog(text)
    assert raised.value.line == line


def test_a_planned_release_must_be_newer_than_the_past_ones():
    text = "# Changelog\n\n## [0.9.0] - planned\n\nA.\n\n## [Unreleased]\n\nB.\n\n"
    text += "## [1.0.0] - 2026-01-01\n\nC.\n"
    with pytest.raises(ChangelogError, match=r"not newer than 1\.0\.0"):
        parse_changelog(text)


def test_an_empty_unreleased_section_is_allowed(client, db, settings, tmp_path):
    text = "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-01-01\n\nFirst.\n"
    assert parse_changelog(text).releases[0].sections == ()
    settings.CHANGELOG_PATH = write(tmp_path, text)
    html = client.get(reverse("changelog")).content.decode()
    assert "Nothing yet since the last release." in html


def test_an_edited_file_is_read_again(tmp_path):
    path = write(tmp_path, SAMPLE)
    assert read_changelog(path).releases[0].version == "1.1.0"
    path.write_text(SAMPLE.replace("1.1.0", "1.2.0").replace("Slack", "Slack bot"))
    assert read_changelog(path).releases[0].version == "1.2.0"


def test_a_missing_or_undecodable_file_is_an_error(tmp_path):
    with pytest.raises(ChangelogError, match="cannot be read"):
        read_changelog(tmp_path / "CHANGELOG.md")
    path = tmp_path / "CHANGELOG.md"
    path.write_bytes(b"# Changelog\n\xff\xfe\n")
    with pytest.raises(ChangelogError, match="not UTF-8"):
        read_changelog(path)


def test_the_page_shows_a_planned_and_a_past_release_without_login(client, db):
    planned = next(r for r in read_changelog(REAL_CHANGELOG).releases if r.status == PLANNED)
    planned_id = f'id="release-{planned.version}"'
    response = client.get(reverse("changelog"))
    html = response.content.decode()
    assert response.status_code == 200
    assert planned_id in html and "cc-release-planned" in html
    assert "Planned: work in progress" in html
    assert 'id="release-unreleased"' in html
    assert 'id="release-0.1.0"' in html and "(2026-11-27)" in html
    assert "<strong>Odoo</strong>" in html  # entries rendered from the real file
    assert "<h3>Security</h3>" in html
    assert html.index(planned_id) < html.index('id="release-unreleased"')
    assert html.index('id="release-unreleased"') < html.index('id="release-0.1.0"')
    assert "cc-node-version" not in html  # the version this node runs: staff only


def test_the_page_escapes_html_from_the_file(client, db, settings, tmp_path):
    settings.CHANGELOG_PATH = write(
        tmp_path, "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- <img src=x onerror=alert(1)>\n"
    )
    html = client.get(reverse("changelog")).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_a_malformed_file_shows_a_clear_message(client, db, settings, tmp_path):
    settings.CHANGELOG_PATH = write(tmp_path, "# Changelog\n\n## [Unreleased]\n\n### New\n\n- x\n")
    response = client.get(reverse("changelog"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "The release notes cannot be shown: CHANGELOG.md is missing or not in" in html
    assert "line 5: unknown section &#x27;New&#x27;" in html


def test_a_missing_file_shows_a_clear_message(client, db, settings, tmp_path):
    settings.CHANGELOG_PATH = tmp_path / "CHANGELOG.md"
    response = client.get(reverse("changelog"))
    assert response.status_code == 200
    assert "CHANGELOG.md cannot be read" in response.content.decode()


def test_the_page_chrome_is_in_italian(client, db):
    response = client.get(reverse("changelog"), HTTP_ACCEPT_LANGUAGE="it")
    html = response.content.decode()
    assert "Note di rilascio" in html
    assert "Le note di rilascio sono scritte in inglese." in html
    assert "<h3>Aggiunte</h3>" in html
    assert "pianificata" in html


def test_the_admin_page_shows_the_notes_and_this_nodes_version(staff_client):
    response = staff_client().get(reverse("dashboard:changelog"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="cc-node-version"' in html and "This node runs version <strong>0." in html
    assert 'id="release-0.1.0"' in html


def test_the_admin_page_needs_a_staff_login(client, db):
    response = client.get(reverse("dashboard:changelog"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_admin_home_links_the_release_notes(staff_client):
    html = staff_client().get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("dashboard:changelog")}" id="cc-release-notes"' in html
    assert 'href="/admin/doc/"' in html  # the admin's own Documentation link
