"""Sigils: placeholders like `[NODE.name]` resolved in operators' texts (docs/sigils.md).

One configuration serves several environments when its texts say `[ENV.SITE_CODE]` or
`[STATION.CP-01.name]` instead of the value. The grammar:

    [ROOT.field]          a field of a root without keys (NODE, ENV, CONF)
    [ROOT.key.field]      a field of one object of a keyed root (STATION.<charger id>.name)
    [[                    a literal "[" (so "[[NODE.name]" prints "[NODE.name]")

Roots are upper-case. Every root declares its allowed fields as a table of getters: a field
is read only through its getter, never by an attribute name taken from the text, so a sigil
cannot reach `__class__`, `_meta` or `password_hash`. A field marked secret comes out only of
a root marked secret-capable, and only for a caller that asks for secrets. Anything else
(an unknown root, field or key; a secret not asked for) stays in the text as typed and is
reported, so a mistake is visible instead of silently blank.

Roots of apps above this one (STATION, from `apps.chargers`) are registered by those apps:
this app never imports them. The objects read are cached for SIGILS_CACHE_SECONDS and
forgotten when the node or a root's objects change (`sigils_invalidate`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from apps.nodes.services import this_node

logger = logging.getLogger(__name__)

ROOT_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# "[[" first: an escaped bracket is never the start of a sigil. The key takes everything up
# to the last dot (charger ids may contain dots); no brackets or spaces in a key.
SIGIL = re.compile(
    r"\[\[|\[(?P<root>[A-Z][A-Z0-9_]*)\.(?:(?P<key>[^\[\]\s]+)\.)?"
    r"(?P<field>[A-Za-z_][A-Za-z0-9_]*)\]"
)
# Names of settings and environment variables that hold secrets (or URLs with credentials).
SECRET_NAME = re.compile(
    r"SECRET|PASSW|TOKEN|KEY|CREDENTIAL|PRIVATE|SALT|SIGNATURE|AUTH|DSN|DATABASE|REDIS|BROKER",
    re.IGNORECASE,
)
# Never resolved, whoever asks: everything signed by this server depends on it.
NEVER = frozenset({"SECRET_KEY", "SECRET_KEY_FALLBACKS"})
# A value of a plain type, or none: a dict or list setting (DATABASES) is never printed.
PLAIN = (str, int, float, bool, Decimal)
MAX_CACHED = 2048


class Problem:
    """Why a sigil stayed as typed (codes; `message()` says it in the reader's language)."""

    ROOT = "root"
    FIELD = "field"
    KEY = "key"
    NEEDS_KEY = "needs-key"
    NO_KEY = "no-key"
    SECRET = "secret"
    PERMISSION = "permission"
    ERROR = "error"


def problem_message(code: str) -> str:
    """Return the operator's explanation of a problem code."""
    messages = {
        Problem.ROOT: gettext("unknown root"),
        Problem.FIELD: gettext("field not allowed for this root"),
        Problem.KEY: gettext("no object with this key"),
        Problem.NEEDS_KEY: gettext("this root needs a key: [ROOT.key.field]"),
        Problem.NO_KEY: gettext("this root takes no key: [ROOT.field]"),
        Problem.SECRET: gettext("secret: not resolved here"),
        Problem.PERMISSION: gettext("you may not see this root"),
        Problem.ERROR: gettext("could not be read (see the server log)"),
    }
    return messages.get(code, code)


@dataclass(frozen=True, slots=True)
class Field:
    """An allowed field of a root: how to read it from the root's object, and if it is secret."""

    get: Callable[[Any], object]
    secret: bool = False
    help: str = ""


@dataclass(frozen=True, slots=True)
class Root:
    """A root of sigils: its allowed fields and how to find the object they are read from.

    `fields` returns the allow-list (a callable, so ENV and CONF follow their settings).
    `load(key)` returns the object the getters read (None for a key that names nothing);
    keyless roots get `key=None`. `permission` is what a user needs to see it in the preview.
    """

    name: str
    fields: Callable[[], Mapping[str, Field]]
    load: Callable[[str | None], object | None]
    keyed: bool = False
    secret_capable: bool = False
    permission: str = ""
    allow_setting: str = ""  # the setting that lists its fields (ENV, CONF)


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a resolved text: plain text, a resolved sigil, or one left as typed."""

    text: str
    sigil: str = ""
    problem: str = ""

    @property
    def message(self) -> str:
        return problem_message(self.problem) if self.problem else ""


@dataclass(frozen=True, slots=True)
class Resolution:
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts)

    @property
    def problems(self) -> list[Part]:
        return [part for part in self.parts if part.problem]


@dataclass(frozen=True, slots=True)
class Text:
    """An operator's text that is resolved somewhere (checked and shown in the preview)."""

    name: str
    get: Callable[[], str]
    help: str = ""


_roots: dict[str, Root] = {}
_texts: dict[str, Text] = {}
_cache: dict[tuple[str, str | None], tuple[float, object | None]] = {}
_cache_lock = threading.Lock()


def sigil_root_register(root: Root) -> None:
    """Add (or replace, by name) a root. A root that is not secret-capable has no secrets."""
    if not ROOT_NAME.match(root.name):
        raise ValueError(f"sigil root {root.name!r} is not upper-case letters, digits and _")
    if not root.secret_capable:
        secret = [name for name, field in root.fields().items() if field.secret]
        if secret:
            raise ValueError(f"root {root.name} is not secret-capable but lists secrets {secret}")
    _roots[root.name] = root
    sigils_invalidate(root.name)


def sigil_root_unregister(name: str) -> None:
    """Remove a root (its sigils are left as typed from now on)."""
    _roots.pop(name, None)
    sigils_invalidate(name)


def sigil_roots() -> dict[str, Root]:
    """Return the registered roots by name."""
    return dict(_roots)


def sigil_text_register(*, name: str, get: Callable[[], str], help: str = "") -> None:
    """Declare a text resolved with sigils (checked by sigils.W001, listed in the preview)."""
    _texts[name] = Text(name, get, help)


def sigil_texts() -> list[Text]:
    return list(_texts.values())


def sigils_invalidate(root: str | None = None) -> None:
    """Forget cached values (of one root, or all): its objects changed."""
    with _cache_lock:
        if root is None:
            _cache.clear()
        else:
            for entry in [entry for entry in _cache if entry[0] == root]:
                del _cache[entry]


def _object(root: Root, key: str | None) -> object | None:
    """Return `root`'s object for `key` (None: the key names nothing), cached a while.

    The object is cached, not its values: fields that are words (a role, a registration
    status) are read in the reader's language each time, and one load serves every field.
    """
    ttl = float(getattr(settings, "SIGILS_CACHE_SECONDS", 30.0))
    entry = (root.name, key)
    now = time.monotonic()
    if ttl > 0:
        with _cache_lock:
            hit = _cache.get(entry)
        if hit is not None and hit[0] > now:
            return hit[1]
    obj = root.load(key)
    if ttl > 0:
        with _cache_lock:
            if len(_cache) >= MAX_CACHED:  # bounded: texts with endless keys cannot grow it
                _cache.clear()
            _cache[entry] = (now + ttl, obj)
    return obj


def _resolve_one(
    match: re.Match[str], *, secrets: bool, may_see: Callable[[Root], bool] | None
) -> Part:
    sigil = match.group(0)
    root = _roots.get(match.group("root"))
    if root is None:
        return Part(sigil, sigil, Problem.ROOT)
    key, name = match.group("key"), match.group("field")
    if root.keyed and key is None:
        return Part(sigil, sigil, Problem.NEEDS_KEY)
    if not root.keyed and key is not None:
        return Part(sigil, sigil, Problem.NO_KEY)
    if may_see is not None and not may_see(root):
        return Part(sigil, sigil, Problem.PERMISSION)
    # The only way to a value: the root's own table, by exact name.
    field = root.fields().get(name)
    if field is None:
        return Part(sigil, sigil, Problem.FIELD)
    if field.secret and not (root.secret_capable and secrets):
        return Part(sigil, sigil, Problem.SECRET)
    try:
        obj = _object(root, key)
        if obj is None:
            return Part(sigil, sigil, Problem.KEY)
        value = field.get(obj)
    except Exception:  # a broken getter must not take the page or receipt down
        logger.exception("sigil %s could not be read", sigil)
        return Part(sigil, sigil, Problem.ERROR)
    return Part("" if value is None else str(value), sigil)


def sigils_resolve(
    text: str, *, secrets: bool = False, may_see: Callable[[Root], bool] | None = None
) -> Resolution:
    """Resolve the sigils of `text`; unknown or disallowed ones stay as typed, flagged.

    Resolved values are not scanned again. `secrets=True` lets secret fields of
    secret-capable roots out (never for a page); `may_see` limits the roots (a user's view).
    """
    text = "" if text is None else str(text)
    parts: list[Part] = []
    last = 0
    for match in SIGIL.finditer(text):
        if match.start() > last:
            parts.append(Part(text[last : match.start()]))
        if match.group(0) == "[[":
            parts.append(Part("["))
        else:
            parts.append(_resolve_one(match, secrets=secrets, may_see=may_see))
        last = match.end()
    if last < len(text):
        parts.append(Part(text[last:]))
    return Resolution(tuple(parts))


def resolve(text: str, *, secrets: bool = False) -> str:
    """Return `text` with its sigils resolved (the unresolvable ones as typed)."""
    return sigils_resolve(text, secrets=secrets).text


# --- The roots of this app: ENV, CONF, NODE -------------------------------------------------


def is_secret_name(name: str) -> bool:
    """Return whether a setting's or variable's name says it holds a secret."""
    return bool(SECRET_NAME.search(name))


def _env_fields() -> dict[str, Field]:
    return {
        name: Field(get=lambda env, name=name: env.get(name, ""), secret=is_secret_name(name))
        for name in getattr(settings, "SIGILS_ENV_ALLOW", [])
        if FIELD_NAME.match(name) and name not in NEVER
    }


def _conf_value(name: str) -> object:
    value = getattr(settings, name, None)
    return value if isinstance(value, PLAIN) else ""


def _conf_fields() -> dict[str, Field]:
    # Only settings with a plain value: a dict (DATABASES) or list is never printed.
    return {
        name: Field(get=lambda _s, name=name: _conf_value(name), secret=is_secret_name(name))
        for name in getattr(settings, "SIGILS_CONF_ALLOW", [])
        if FIELD_NAME.match(name)
        and name not in NEVER
        and isinstance(getattr(settings, name, None), PLAIN)
    }


def _first_address(node: Any) -> str:
    for address in node.addresses or []:
        if "." in str(address) and not str(address).startswith("127."):
            return str(address)
    return str(node.addresses[0]) if node.addresses else ""


NODE_FIELDS: dict[str, Field] = {
    "name": Field(get=lambda node: node.name),
    "role": Field(get=lambda node: node.get_role_display()),
    "hostname": Field(get=lambda node: node.hostname),
    "address": Field(get=_first_address),
    "port": Field(get=lambda node: node.port),
    "version": Field(get=lambda node: node.version),
}


def register_builtin_roots() -> None:
    """Register ENV, CONF and NODE (called by this app's ready())."""
    sigil_root_register(
        Root(
            name="ENV",
            fields=_env_fields,
            load=lambda _key: os.environ,
            secret_capable=True,
            permission="nodes.view_node",
            allow_setting="SIGILS_ENV_ALLOW",
        )
    )
    sigil_root_register(
        Root(
            name="CONF",
            fields=_conf_fields,
            load=lambda _key: settings,
            secret_capable=True,
            permission="nodes.view_node",
            allow_setting="SIGILS_CONF_ALLOW",
        )
    )
    sigil_root_register(
        Root(
            name="NODE",
            fields=lambda: NODE_FIELDS,
            load=lambda _key: this_node(),
            permission="nodes.view_node",
        )
    )
