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
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpResponse
    from django.test import Client

    from apps.chargers.models import ChargingStation
    from apps.transactions.models import Transaction

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
        msgid = "\0".join(filter(None, (fields["msgid"], fields.get("msgid_plural"))))
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


# The catalog makemessages writes, and the one for third-party apps it never touches.
CATALOGS = ("locale", "locale_thirdparty")
# Italian that leaves out an English placeholder on purpose: celery beat fills {1} and {2}
# with English plural endings ("s", "was"/"were"); str.format ignores unused arguments.
DROPPED_PLACEHOLDERS = frozenset({"{0} task{1} {2} successfully run"})


def test_the_third_party_italian_keeps_the_placeholders_it_needs() -> None:
    po = ROOT / "locale_thirdparty" / "it" / "LC_MESSAGES" / "django.po"
    wrong = [
        msgid
        for msgid, msgstr, _, _ in entries(po)
        if msgid not in DROPPED_PLACEHOLDERS
        and sorted(set(PLACEHOLDER.findall(msgid))) != sorted(set(PLACEHOLDER.findall(msgstr)))
    ]
    assert not wrong, f"placeholders differ: {wrong}"
    assert all(msgstr and not fuzzy for _, msgstr, fuzzy, _ in entries(po))


@pytest.mark.parametrize("directory", CATALOGS)
def test_the_committed_catalog_is_the_compiled_one(directory: str) -> None:
    po = ROOT / directory / "it" / "LC_MESSAGES" / "django.po"
    mo = ROOT / directory / "it" / "LC_MESSAGES" / "django.mo"
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
            and "\0" not in msgid  # a plural
            and (pgettext(context, msgid) if context else gettext(msgid)) == msgid != msgstr
        ]
    assert mo.exists() and not stale, stale[:20]


def test_the_recorder_sees_what_the_italian_catalog_lacks(recorder: Recorder) -> None:
    """The instrument of the page walk: a message missing in Italian is caught, a known one not."""
    from django.template import Context, Template
    from django.utils.translation import override

    template = Template(
        "{% load i18n %}{% translate 'Station' context 'no such context' %}"
        "{% translate 'Not a message of Constellation' %}{% translate 'Live status' %}"
        "{% blocktranslate count n=2 %}One unknown thing{% plural %}{{ n }} unknown things"
        "{% endblocktranslate %}"
    )
    with override("it"):
        template.render(Context())
    assert recorder.gaps() == [
        "Not a message of Constellation",
        "One unknown thing",
        "no such context | Station",
    ]


# What the Italian pages may show untranslated because it is not a human word: gettext is asked
# for it, but its English is its Italian. Keep this tiny; every entry says why.
NOT_WORDS: frozenset[str] = frozenset()


class Recorder:
    """Record each message looked up in the Italian catalog that the catalog lacks.

    Django asks the active translation's `gettext` / `ngettext` for every `{% translate %}`,
    `{% blocktranslate %}`, `_()` and lazy string (`pgettext` goes through `gettext` with the
    context joined in); a message missing there falls back to English on the page.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from django.utils.translation import trans_real

        self.italian = trans_real.translation("it")
        self.missing: set[str] = set()
        catalog = self.italian._catalog
        gettext, ngettext = self.italian.gettext, self.italian.ngettext

        def recording_gettext(message: str) -> str:
            if message and message not in catalog:
                self.missing.add(message.replace(trans_real.CONTEXT_SEPARATOR, " | "))
            return gettext(message)

        def recording_ngettext(singular: str, plural: str, number: int) -> str:
            if (singular, 0) not in catalog:
                self.missing.add(singular.replace(trans_real.CONTEXT_SEPARATOR, " | "))
            return ngettext(singular, plural, number)

        monkeypatch.setattr(self.italian, "gettext", recording_gettext)
        monkeypatch.setattr(self.italian, "ngettext", recording_ngettext)

    def gaps(self) -> list[str]:
        return sorted(self.missing - NOT_WORDS)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    return Recorder(monkeypatch)


def model_texts(model: type) -> list[tuple[str, str, object]]:
    """Return (kind, where, text) for the names, field names, help texts and choices of a model."""
    meta = model._meta
    texts: list[tuple[str, str, object]] = [
        ("name", meta.label, meta.verbose_name),
        ("name", meta.label, meta.verbose_name_plural),
    ]
    for field in meta.get_fields():
        where = f"{meta.label}.{field.name}"
        if hasattr(field, "verbose_name") and not field.auto_created:
            texts.append(("name", where, field.verbose_name))
        if getattr(field, "help_text", None):
            texts.append(("name", where, field.help_text))
        for value, label in getattr(field, "flatchoices", None) or []:
            if value not in ("", None):
                texts.append(("choice", where, label))
    return texts


def test_every_admin_model_speaks_italian(db, recorder: Recorder) -> None:
    """Names, field names, help texts and choice labels of every model in the admin."""
    from django.contrib import admin
    from django.utils.functional import Promise
    from django.utils.translation import override

    plain: list[str] = []
    with override("it"):
        for model in admin.site._registry:
            for kind, where, text in model_texts(model):
                if isinstance(text, Promise):
                    str(text)  # the lookup the admin does when it renders the label
                elif kind == "name" and text and model.__module__.startswith("apps."):
                    # A plain string is shown as it is, whatever the catalog holds. (Plain
                    # choice labels are data: time zones, OCPP enumeration values; the plain
                    # names of third-party models are theirs to wrap.)
                    plain.append(f"{where}: {text!r}")
    assert not recorder.gaps(), f"{len(recorder.gaps())} without Italian: {recorder.gaps()}"
    assert not plain, f"{len(plain)} never translated (not wrapped in gettext): {plain}"


def operator_pages(station: ChargingStation, transaction: Transaction) -> list[str]:
    """Return the addresses of the pages an operator works in, with data on them."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    from apps.ocpp.models import MessageLog

    MessageLog.objects.create(
        charger_id=station.charger_id,
        direction="in",
        action="Heartbeat",
        frame="[2]",
        created_at=station.connected_at,
    )
    from apps.chargers.models import ChargingStation, RegistrationStatus
    from apps.chargers.services import station_connect
    from apps.dashboard.station_commands import operation_links

    newer = ChargingStation.objects.create(
        charger_id="CP-I18N-21", registration_status=RegistrationStatus.ACCEPTED
    )
    station_connect(station=newer, ocpp_version="ocpp2.1", connection_id="c21")
    # The form of each operation the station page offers, for a 1.6 and a 2.1 station.
    operations = [url for one in (station, newer) for _, _, url in operation_links(one)]
    pages = [
        *operations,
        reverse("admin:chargers_chargingstation_change", args=[newer.pk]),
        reverse("admin:index"),
        reverse("home"),
        reverse("dashboard:index"),
        reverse("admin:chargers_chargingstation_change", args=[station.pk]),
        transaction.get_absolute_url(),
        reverse("dashboard:message_log"),
        reverse("changelog"),
        reverse("dashboard:changelog"),
        reverse("admin:nodes_node_sigils"),
        reverse("userdata:page"),
    ]
    app_labels = set()
    for model in admin.site._registry:
        meta = model._meta
        app_labels.add(meta.app_label)
        name = f"admin:{meta.app_label}_{meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        try:
            pages.append(reverse(f"{name}_add"))
        except NoReverseMatch:
            pass
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"{name}_change", args=[first.pk]))
    pages += [reverse("admin:app_list", args=[label]) for label in sorted(app_labels)]
    return pages


def test_the_operator_pages_are_all_italian(
    client: Client, operator: User, charging: Transaction, recorder: Recorder
) -> None:
    """Every message the pages ask the Italian catalog for is there (no English fallback)."""
    client.force_login(operator)
    failed, unlabelled = [], set()
    for url in operator_pages(charging.connector.station, charging):
        response = client.get(url, follow=True, headers={"accept-language": "it"})
        if response.status_code == 403 and url.endswith("/add/"):
            continue  # an add page the admin does not offer (rows made by the system)
        if response.status_code != 200 or response.headers["Content-Language"] != "it":
            failed.append(f"{url}: {response.status_code}")
        unlabelled |= plain_labels(response)
    assert not failed, failed
    assert not recorder.gaps(), f"{len(recorder.gaps())} without Italian: {recorder.gaps()}"
    assert not unlabelled, f"form fields labelled in English only: {sorted(unlabelled)}"


def plain_labels(response: HttpResponse) -> set[str]:
    """Return the fields of our forms on a page whose label no translation can reach.

    A form field without a label gets one made from its name ("station" -> "Station"), and
    a label given as a plain string: neither goes through gettext, so the recorder cannot see
    them. Model form fields take their model field's (lazy) name.
    """
    from django import forms
    from django.utils.functional import Promise

    found = set()
    for context in response.context or []:
        for value in context.flatten().values():
            form = getattr(value, "form", value)  # the admin's AdminForm wraps its form
            if not isinstance(form, forms.BaseForm) or not type(form).__module__.startswith(
                "apps."
            ):
                continue
            for name, field in form.fields.items():
                if not isinstance(field.widget, forms.HiddenInput) and not isinstance(
                    field.label, Promise
                ):
                    found.add(f"{type(form).__module__}.{type(form).__name__}.{name}")
    return found
