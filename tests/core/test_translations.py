"""Every string an operator can meet is in Italian.

`manage.py makemessages` (the real extraction: Python, templates, JavaScript catalogs are not
used) runs on a copy of the code; every message it finds in our apps and templates must have
an Italian translation that is neither empty nor fuzzy, and every Italian translation must
keep the placeholders of its English text. A string added without its Italian fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("apps", "config", "templates", "locale", "manage.py")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]|%[sdfr]|\{\w*\}")

pytestmark = pytest.mark.skipif(
    shutil.which("xgettext") is None and os.environ.get("CI") != "true",
    reason="gettext is not installed (scripts/test-packages.sh installs it)",
)


def entries(po: Path) -> list[tuple[str, str, bool, str | None]]:
    """Return (msgid, msgstr, fuzzy, msgctxt) of each live entry of a .po file (plurals joined)."""
    found = []
    for block in re.split(r"\n\s*\n", po.read_text(encoding="utf-8")):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if "msgid" not in fields or fields["msgid"] == "":
            continue
        msgid = fields["msgid"] + fields.get("msgid_plural", "")
        msgstr = "".join(value for key, value in sorted(fields.items()) if key.startswith("msgstr"))
        found.append((msgid, msgstr, fuzzy, fields.get("msgctxt")))
    return found


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("messages")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    env = {**os.environ, "DATA_DIR": str(copy / "data")}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "it", "--no-obsolete", "-v0"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return copy / "locale" / "it" / "LC_MESSAGES" / "django.po"


def test_every_message_of_the_code_has_its_italian(extracted: Path) -> None:
    missing = [msgid for msgid, msgstr, fuzzy, _ in entries(extracted) if not msgstr or fuzzy]
    assert not missing, f"{len(missing)} messages without Italian: {missing[:40]}"


def test_each_italian_keeps_the_placeholders_of_its_english(extracted: Path) -> None:
    wrong = [
        msgid
        for msgid, msgstr, _, _ in entries(extracted)
        if msgstr
        and sorted(set(PLACEHOLDER.findall(msgid))) != sorted(set(PLACEHOLDER.findall(msgstr)))
    ]
    assert not wrong, f"placeholders differ: {wrong[:20]}"


def test_the_committed_catalog_is_the_compiled_one() -> None:
    po = ROOT / "locale" / "it" / "LC_MESSAGES" / "django.po"
    mo = ROOT / "locale" / "it" / "LC_MESSAGES" / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", os.devnull, str(po)], check=True)
    # Stale .mo: a translation added to the .po but not compiled is not shown.
    from django.utils.translation import gettext, override, pgettext

    with override("it"):
        stale = [
            msgid
            for msgid, msgstr, fuzzy, context in entries(po)
            if msgstr
            and not fuzzy
            and "%" not in msgid
            and "\\" not in msgid
            and "{" not in msgid
            and (pgettext(context, msgid) if context else gettext(msgid)) == msgid != msgstr
        ]
    assert mo.exists() and not stale, stale[:20]
