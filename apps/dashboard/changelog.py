"""The release notes: CHANGELOG.md (Keep a Changelog 1.1) read by a small, strict parser.

The file is written for operators, one section per version. Its grammar, line by line:

- the first non-blank line is ``# Changelog``; plain paragraphs (the introduction) follow;
- a release heading: ``## [Unreleased]``, ``## [X.Y.Z] - YYYY-MM-DD`` (a past release; with
  `` [YANKED]`` after the date when it was pulled) or ``## [X.Y.Z] - planned`` (a release
  that is planned, not made);
- under a release: an optional paragraph (its summary), then ``### Added`` / ``Changed`` /
  ``Deprecated`` / ``Removed`` / ``Fixed`` / ``Security`` sections, each a list of ``- ``
  entries; an entry goes on over lines indented by two spaces or more. Only Unreleased may
  be empty (right after a release);
- link reference definitions (``[0.1.0]: https://...``) at the end link the headings.

Order: planned releases first (newest first), then Unreleased (at most one), then the past
releases, newest first, with dates that never go forwards. Anything else is an error that
names its line (`ChangelogError`), so a mistake shows on the page instead of half the notes.

Text is inline Markdown: `` `code` ``, ``**strong**``, ``*emphasis*`` / ``_emphasis_`` and
``[text](https://...)`` links (http, https and mailto only). Everything else is text,
HTML-escaped: the file cannot put markup of its own on the page.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

# Keep a Changelog's kinds of change, in the order the page shows them.
SECTION_LABELS = {
    "Added": _("Added"),
    "Changed": _("Changed"),
    "Deprecated": _("Deprecated"),
    "Removed": _("Removed"),
    "Fixed": _("Fixed"),
    "Security": _("Security"),
}

PLANNED = "planned"
UNRELEASED = "unreleased"
RELEASED = "released"

_VERSION = r"(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"
_RELEASE = re.compile(
    rf"^## \[{_VERSION}\] - (?:(?P<planned>planned)|(?P<date>\d{{4}}-\d{{2}}-\d{{2}})"
    r"(?P<yanked> \[YANKED\])?)$"
)
_UNRELEASED = re.compile(r"^## \[Unreleased\]$")
_SECTION = re.compile(r"^### (?P<kind>\S.*)$")
_ENTRY = re.compile(r"^- (?P<text>\S.*)$")
_CONTINUATION = re.compile(r"^ {2,}(?P<text>\S.*)$")
_LINK_DEFINITION = re.compile(r"^\[(?P<label>[^\]]+)\]: (?P<url>\S+)$")
_SAFE_URL = re.compile(r"^(?:https?://[^\s<>\"']+|mailto:[^\s<>\"']+)$")

_CODE_OR_LINK = re.compile(r"`(?P<code>[^`]+)`|\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]+)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")


class ChangelogError(ValueError):
    """The changelog file cannot be read or breaks the grammar; says where and why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class Section:
    kind: str  # one of SECTION_LABELS
    entries: tuple[SafeString, ...]  # rendered inline Markdown

    @property
    def label(self) -> str:
        return str(SECTION_LABELS[self.kind])


@dataclass(frozen=True)
class Release:
    """One version's notes; `version` is "" for Unreleased."""

    version: str
    status: str  # PLANNED, UNRELEASED or RELEASED
    date: dt.date | None = None
    yanked: bool = False
    summary: str = ""  # a SafeString when there is one
    sections: tuple[Section, ...] = ()
    url: str = ""

    @property
    def planned(self) -> bool:
        return self.status == PLANNED

    @property
    def unreleased(self) -> bool:
        return self.status == UNRELEASED


@dataclass(frozen=True)
class Changelog:
    intro: tuple[SafeString, ...]  # the introduction's paragraphs
    releases: tuple[Release, ...]


def render_inline(text: str, line: int | None = None) -> SafeString:
    """Return `text` (inline Markdown) as HTML: code, links, strong, emphasis; the rest escaped."""
    parts: list[str] = []
    position = 0
    for match in _CODE_OR_LINK.finditer(text):
        parts.append(_emphasis(escape(text[position : match.start()])))
        if match["code"] is not None:
            parts.append(f"<code>{escape(match['code'])}</code>")
        else:
            url = match["url"]
            if not _SAFE_URL.match(url):
                raise ChangelogError(f"a link must go to an http(s) or mailto address: {url}", line)
            parts.append(f'<a href="{escape(url)}">{_emphasis(escape(match["text"]))}</a>')
        position = match.end()
    parts.append(_emphasis(escape(text[position:])))
    return mark_safe("".join(parts))  # every piece of the text was escaped above


def _emphasis(escaped: str) -> str:
    escaped = _STRONG.sub(r"<strong>\1</strong>", escaped)
    escaped = _EMPHASIS.sub(r"<em>\1</em>", escaped)
    return _UNDERSCORE.sub(r"<em>\1</em>", escaped)


def _version_key(version: str) -> tuple:
    """Order versions as semantic versioning does (1.0.0-rc.1 < 1.0.0)."""
    core, _dash, pre = version.partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    if not pre:
        return (*numbers, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*numbers, 0, ids)


class _Builder:
    """Collects one release while the parser walks its lines."""

    def __init__(self, version: str, status: str, date: dt.date | None, yanked: bool, line: int):
        self.version = version
        self.status = status
        self.date = date
        self.yanked = yanked
        self.line = line  # of the heading
        self.summary: list[str] = []
        self.sections: list[tuple[str, list[list]]] = []  # kind, [line, text] per entry

    def build(self, urls: dict[str, str]) -> Release:
        for kind, entries in self.sections:
            if not entries:
                raise ChangelogError(f"the {kind} section has no entries", self.line)
        if not self.sections and not self.summary and self.status != UNRELEASED:
            raise ChangelogError("a release with neither a summary nor sections", self.line)
        summary = render_inline(" ".join(self.summary), self.line) if self.summary else ""
        return Release(
            version=self.version,
            status=self.status,
            date=self.date,
            yanked=self.yanked,
            summary=summary,
            sections=tuple(
                Section(kind, tuple(render_inline(text, line) for line, text in entries))
                for kind, entries in self.sections
            ),
            url=urls.get(self.version or "Unreleased", ""),
        )


def parse_changelog(text: str) -> Changelog:
    """Parse a Keep a Changelog file (the grammar in this module's docstring); raise if broken."""
    lines = text.splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines) or lines[first].rstrip() != "# Changelog":
        raise ChangelogError('the file must begin with the title "# Changelog"', first + 1)
    intro: list[list[str]] = [[]]
    builders: list[_Builder] = []
    urls: dict[str, str] = {}
    entries: list[list] | None = None  # where an entry ([line, text]) or its continuation goes
    for number, raw in enumerate(lines[first + 1 :], start=first + 2):
        line = raw.rstrip()
        if line.startswith("#"):
            entries = None
            if urls:
                raise ChangelogError("a heading after the link definitions", number)
            builder = _release_heading(line, number)
            if builder is not None:
                builders.append(builder)
                continue
            section = _SECTION.match(line)
            if section is None:
                raise ChangelogError(f"not a release or section heading: {line!r}", number)
            if not builders:
                raise ChangelogError("a section before the first release heading", number)
            kind = section["kind"]
            if kind not in SECTION_LABELS:
                known = ", ".join(SECTION_LABELS)
                raise ChangelogError(f"unknown section {kind!r} (one of: {known})", number)
            if any(kind == seen for seen, _entries in builders[-1].sections):
                raise ChangelogError(f"a second {kind} section in one release", number)
            entries = []
            builders[-1].sections.append((kind, entries))
        elif not line:
            if not builders and intro[-1]:
                intro.append([])
        elif definition := _LINK_DEFINITION.match(line):
            if not _SAFE_URL.match(definition["url"]):
                raise ChangelogError("a link definition must be an http(s) address", number)
            urls[definition["label"]] = definition["url"]
        elif urls:
            raise ChangelogError("only link definitions may follow the link definitions", number)
        elif not builders:
            intro[-1].append(line.strip())
        elif entry := _ENTRY.match(line):
            if entries is None:
                raise ChangelogError("an entry outside an Added/Changed/... section", number)
            entries.append([number, entry["text"]])
        elif (more := _CONTINUATION.match(line)) and entries:
            entries[-1][1] = f"{entries[-1][1]} {more['text']}"
        elif builders[-1].sections:
            raise ChangelogError(f"not an entry ('- ...') of the section: {line!r}", number)
        else:
            builders[-1].summary.append(line.strip())
    releases = tuple(builder.build(urls) for builder in builders)
    _check_order(releases, builders)
    paragraphs = tuple(render_inline(" ".join(p)) for p in intro if p)
    return Changelog(intro=paragraphs, releases=releases)


def _release_heading(line: str, number: int) -> _Builder | None:
    if _UNRELEASED.match(line):
        return _Builder("", UNRELEASED, None, False, number)
    match = _RELEASE.match(line)
    if match is None:
        if line.startswith("## "):
            raise ChangelogError(
                "a release heading is '## [Unreleased]', '## [X.Y.Z] - YYYY-MM-DD' or "
                f"'## [X.Y.Z] - planned', not {line!r}",
                number,
            )
        return None
    if match["planned"]:
        return _Builder(match["version"], PLANNED, None, False, number)
    try:
        date = dt.date.fromisoformat(match["date"])
    except ValueError as exc:
        raise ChangelogError(f"not a date: {match['date']}", number) from exc
    return _Builder(match["version"], RELEASED, date, bool(match["yanked"]), number)


def _check_order(releases: tuple[Release, ...], builders: list[_Builder]) -> None:
    """Planned (newest first), then Unreleased, then past releases newest first."""
    rank = {PLANNED: 0, UNRELEASED: 1, RELEASED: 2}
    seen: set[str] = set()
    for index, release in enumerate(releases):
        line = builders[index].line
        if release.version in seen:
            name = release.version or "Unreleased"
            raise ChangelogError(f"{name} appears twice", line)
        seen.add(release.version)
        if index == 0:
            continue
        before = releases[index - 1]
        if rank[release.status] < rank[before.status]:
            raise ChangelogError(
                "releases go planned first, then Unreleased, then past releases", line
            )
        if release.version and before.version:
            if _version_key(release.version) >= _version_key(before.version):
                raise ChangelogError(
                    f"{release.version} must come before {before.version} (newest first)", line
                )
            if release.date and before.date and release.date > before.date:
                raise ChangelogError(f"{release.version} is dated after {before.version}", line)
    released = [r.version for r in releases if r.status == RELEASED]
    planned = [r.version for r in releases if r.status == PLANNED]
    if released and planned and _version_key(planned[-1]) <= _version_key(released[0]):
        raise ChangelogError(f"planned {planned[-1]} is not newer than {released[0]}")


@functools.lru_cache(maxsize=4)
def _parsed(path: str, _mtime_ns: int, _size: int) -> Changelog:
    return parse_changelog(Path(path).read_text(encoding="utf-8"))


def read_changelog(path: Path) -> Changelog:
    """Return the changelog at `path`, parsed once per version of the file; raise if unreadable."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ChangelogError(f"{path.name} cannot be read: {exc.strerror}") from exc
    try:
        return _parsed(str(path), stat.st_mtime_ns, stat.st_size)
    except UnicodeDecodeError as exc:
        raise ChangelogError(f"{path.name} is not UTF-8 text") from exc
    except OSError as exc:
        raise ChangelogError(f"{path.name} cannot be read: {exc.strerror}") from exc
