"""Sigils: the grammar, the allow-lists, secrets, the cache, the checks and the admin preview."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.checks import run_checks
from django.template import engines
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from apps.nodes.models import Node
from apps.nodes.services import this_node
from apps.nodes.sigils import (
    NODE_FIELDS,
    Field,
    Problem,
    Root,
    resolve,
    sigil_root_register,
    sigil_root_unregister,
    sigils_invalidate,
    sigils_resolve,
)

pytestmark = pytest.mark.django_db

# Names a sigil might try to reach an object's insides with.
DANGEROUS = [
    "__class__",
    "__dict__",
    "__init__",
    "__globals__",
    "__getattribute__",
    "__reduce__",
    "_meta",
    "_state",
    "pk",
    "id",
    "objects",
    "save",
    "delete",
    "refresh_from_db",
    "password",
    "password_hash",
    "pending_password_hash",
    "secret",
    "SECRET_KEY",
    "DATABASES",
    "local",
    "addresses",
    "switches",
    "get_role_display",
]
# Characters of generated names: anything but the brackets (so a generated sigil is one sigil).
NAME_CHARS = st.characters(exclude_characters="[]", exclude_categories=("Cs",))
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,16}", fullmatch=True)
names = st.one_of(
    st.sampled_from(DANGEROUS + list(NODE_FIELDS) + ["colour", "size", "colour_secret"]),
    identifiers,
    identifiers.map(lambda name: f"__{name}__"),
    identifiers.map(lambda name: f"_{name}"),
    st.lists(identifiers, min_size=2, max_size=3).map(".".join),  # attribute paths
    st.text(NAME_CHARS, max_size=12),
)
roots = st.one_of(
    st.sampled_from(["NODE", "ENV", "CONF", "STATION", "TRAP", "node", "Node", "SETTINGS"]),
    st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True),
    st.text(NAME_CHARS, max_size=8),
)

# The trap root: its object answers every attribute with a value that must never come out.
ALLOWED = {"colour": "OK-colour", "size": "OK-size"}


class Trap:
    """An object whose every attribute is a leak, except through the root's table."""

    def __getattr__(self, name: str) -> str:
        return f"LEAK-{name}"

    colour_secret = "LEAK-colour_secret"
    password_hash = "LEAK-password_hash"


@pytest.fixture
def trap() -> Iterator[None]:
    trap_object = Trap()
    sigil_root_register(
        Root(
            name="TRAP",
            fields=lambda: {
                name: Field(get=lambda _o, v=value: v) for name, value in ALLOWED.items()
            },
            load=lambda key: trap_object if key == "k1" else None,
            keyed=True,
        )
    )
    yield
    sigil_root_unregister("TRAP")


@pytest.fixture
def node(settings) -> Node:
    settings.NODE_NAME = "pi-by-the-gate"
    node = this_node()
    node.hostname = "gate-host"
    node.addresses = ["127.0.1.1", "192.0.2.7"]
    node.port = 8443
    node.version = "1.2.3"
    node.save()
    return node


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    sigils_invalidate()
    with translation.override("en"):
        yield
    sigils_invalidate()


# --- Grammar and the roots of this app ------------------------------------------------------


def test_it_resolves_the_nodes_fields(node: Node) -> None:
    text = "[NODE.name] is a [NODE.role] at [NODE.address]:[NODE.port] "
    text += "([NODE.hostname] [NODE.version])"
    assert resolve(text) == "pi-by-the-gate is a Terminal at 192.0.2.7:8443 (gate-host 1.2.3)"


def test_a_double_bracket_prints_a_literal_bracket(node: Node) -> None:
    assert resolve("[[NODE.name] and [[[NODE.name]]") == "[NODE.name] and [pi-by-the-gate]"
    assert resolve("[[") == "["
    assert sigils_resolve("[[NODE.name]").problems == []


def test_text_that_is_not_a_sigil_is_left_alone(node: Node) -> None:
    for text in ("[note]", "[NODE]", "[NODE.]", "[NODE name]", "a ] b [", "[ NODE.name ]"):
        assert resolve(text) == text
        assert sigils_resolve(text).problems == []


def test_unknown_or_disallowed_sigils_stay_as_typed_with_their_reason(node: Node, trap) -> None:
    cases = {
        "[NOPE.name]": Problem.ROOT,
        "[NODE.password]": Problem.FIELD,
        "[NODE.__class__]": Problem.FIELD,
        "[NODE.k1.name]": Problem.NO_KEY,
        "[TRAP.colour]": Problem.NEEDS_KEY,
        "[TRAP.k2.colour]": Problem.KEY,
    }
    text = " ".join(cases)
    resolution = sigils_resolve(text)
    assert resolution.text == text
    assert [(part.sigil, part.problem) for part in resolution.problems] == list(cases.items())
    assert all(part.message for part in resolution.problems)


def test_a_resolved_value_is_not_resolved_again(node: Node) -> None:
    node.name = "[NODE.hostname] [[x"
    node.save(update_fields=["name"])
    assert resolve("[NODE.name]") == "[NODE.hostname] [[x"


def test_env_prints_only_the_allowed_variables(node: Node, settings, monkeypatch) -> None:
    monkeypatch.setenv("SITE_CODE", "MI-04")
    monkeypatch.setenv("OTHER", "not-listed")
    settings.SIGILS_ENV_ALLOW = ["SITE_CODE", "UNSET_ONE"]
    assert resolve("[ENV.SITE_CODE]/[ENV.OTHER]/[ENV.UNSET_ONE]") == "MI-04/[ENV.OTHER]/"


def test_a_secret_comes_out_only_for_a_caller_that_asks(node: Node, settings, monkeypatch) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-123")
    settings.SIGILS_ENV_ALLOW = ["API_TOKEN"]
    resolution = sigils_resolve("[ENV.API_TOKEN]")
    assert resolution.text == "[ENV.API_TOKEN]"
    assert resolution.problems[0].problem == Problem.SECRET
    assert resolve("[ENV.API_TOKEN]", secrets=True) == "tok-123"


def test_conf_prints_listed_plain_settings_and_never_the_secret_key(node: Node, settings) -> None:
    settings.TIME_ZONE = "Europe/Rome"
    settings.LCD_COLS = 20
    settings.SIGILS_CONF_ALLOW = ["TIME_ZONE", "SECRET_KEY", "DATABASES", "LCD_COLS"]
    text = "[CONF.TIME_ZONE] [CONF.LCD_COLS] [CONF.LCD_ROWS]"
    assert resolve(text) == "Europe/Rome 20 [CONF.LCD_ROWS]"
    for asked in (False, True):
        assert resolve("[CONF.SECRET_KEY][CONF.DATABASES]", secrets=asked) == (
            "[CONF.SECRET_KEY][CONF.DATABASES]"
        )


def test_a_root_that_is_not_secret_capable_cannot_list_secrets() -> None:
    root = Root(name="LEAKY", fields=lambda: {"key": Field(get=str, secret=True)}, load=str)
    with pytest.raises(ValueError, match="not secret-capable"):
        sigil_root_register(root)
    with pytest.raises(ValueError, match="upper-case"):
        sigil_root_register(Root(name="lower", fields=dict, load=str))
    assert resolve("[LEAKY.key]") == "[LEAKY.key]"


# --- The cache -----------------------------------------------------------------------------


def test_values_are_cached_and_forgotten_when_the_node_changes(
    node: Node, settings, django_assert_num_queries
) -> None:
    settings.SIGILS_CACHE_SECONDS = 3600
    assert resolve("[NODE.name]") == "pi-by-the-gate"
    with django_assert_num_queries(0):
        assert resolve("[NODE.name] [NODE.name]") == "pi-by-the-gate pi-by-the-gate"
    node.name = "renamed"
    node.save(update_fields=["name"])
    assert resolve("[NODE.name]") == "renamed"


def test_one_read_serves_every_field_of_the_node(
    node: Node, settings, django_assert_num_queries
) -> None:
    settings.SIGILS_CACHE_SECONDS = 3600
    with django_assert_num_queries(1):
        assert resolve("[NODE.name] [NODE.port] [NODE.version]") == "pi-by-the-gate 8443 1.2.3"


def test_a_getter_that_fails_leaves_its_sigil_and_logs(caplog) -> None:
    def broken(_obj: object) -> str:
        raise RuntimeError("device gone")

    sigil_root_register(Root(name="BROKEN", fields=lambda: {"x": Field(get=broken)}, load=str))
    try:
        resolution = sigils_resolve("a [BROKEN.x] b")
    finally:
        sigil_root_unregister("BROKEN")
    assert resolution.text == "a [BROKEN.x] b"
    assert resolution.problems[0].problem == Problem.ERROR
    assert "sigil [BROKEN.x] could not be read" in caplog.text


def test_without_a_cache_every_resolution_reads_again(node: Node, settings) -> None:
    settings.SIGILS_CACHE_SECONDS = 0
    assert resolve("[NODE.name]") == "pi-by-the-gate"
    Node.objects.filter(pk=node.pk).update(name="changed-without-signal")
    assert resolve("[NODE.name]") == "changed-without-signal"


# --- Properties: nothing outside the allow-list ---------------------------------------------


def sigil_of(root: str, key: str | None, field: str) -> str:
    return f"[{root}.{field}]" if key is None else f"[{root}.{key}.{field}]"


@hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(root=roots, key=st.one_of(st.none(), st.sampled_from(["k1", "k2"]), names), field=names)
def test_the_trap_root_gives_only_its_table(trap, root: str, key: str | None, field: str) -> None:
    text = sigil_of(root, key, field)
    # The one oracle: the exact sigils of the allow-list, nothing else changes.
    expected = {f"[TRAP.k1.{name}]": value for name, value in ALLOWED.items()}.get(text, text)
    assert resolve(text) == expected
    assert resolve(text, secrets=True) == expected
    assert "LEAK" not in resolve(text, secrets=True)


@hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(root=roots, key=st.one_of(st.none(), names), field=names)
def test_the_node_root_gives_only_its_fields(node: Node, root: str, key, field: str) -> None:
    allowed = {
        "[NODE.name]": "pi-by-the-gate",
        "[NODE.role]": "Terminal",
        "[NODE.hostname]": "gate-host",
        "[NODE.address]": "192.0.2.7",
        "[NODE.port]": "8443",
        "[NODE.version]": "1.2.3",
    }
    text = sigil_of(root, key, field)
    assert resolve(text) == allowed.get(text, text)


SECRETS = {"API_TOKEN": "LEAK-token", "DB_PASSWORD": "LEAK-password", "STRIPE_KEY": "LEAK-key"}
PLAIN_ENV = {"SITE_CODE": "MI-04"}
fragments = st.one_of(
    st.sampled_from([f"[ENV.{name}]" for name in [*SECRETS, *PLAIN_ENV, "SECRET_KEY"]]),
    st.sampled_from(["[CONF.SECRET_KEY]", "[CONF.DATABASES]", "[CONF.TIME_ZONE]", "[[", "]", "."]),
    st.text(NAME_CHARS, max_size=8),
)


@hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(parts=st.lists(fragments, max_size=8))
def test_secrets_never_come_out_of_a_call_that_did_not_ask(
    node: Node, settings, monkeypatch, parts: list[str]
) -> None:
    for name, value in {**SECRETS, **PLAIN_ENV, "SECRET_KEY": "LEAK-env-secret-key"}.items():
        monkeypatch.setenv(name, value)
    settings.SIGILS_ENV_ALLOW = [*SECRETS, *PLAIN_ENV]
    settings.SIGILS_CONF_ALLOW = ["SECRET_KEY", "DATABASES", "TIME_ZONE"]
    text = "".join(parts)
    assert "LEAK" not in resolve(text)
    assert settings.SECRET_KEY not in resolve(text, secrets=True)
    rendered = engines["django"].from_string("{% load sigils %}{{ text|sigils }}")
    assert "LEAK" not in rendered.render({"text": text})


@given(text=st.text(max_size=60))
def test_any_text_resolves_without_error_and_text_without_brackets_is_unchanged(
    text: str,
) -> None:
    resolution = sigils_resolve(text)
    assert isinstance(resolution.text, str)
    if "[" not in text:
        assert resolution.text == text and resolution.problems == []


# --- Where sigils are used ------------------------------------------------------------------


def test_the_template_filter_resolves_and_escapes(node: Node) -> None:
    node.name = "<b>gate</b>"
    node.save(update_fields=["name"])
    template = engines["django"].from_string("{% load sigils %}{{ text|sigils }}")
    html = template.render({"text": "Node [NODE.name] [NODE.nope]"})
    assert html == "Node &lt;b&gt;gate&lt;/b&gt; [NODE.nope]"


def test_the_check_warns_of_a_text_in_use_with_an_unknown_sigil(node: Node, settings) -> None:
    settings.BILLING_ISSUER_NAME = "Energia [NODE.nmae]"
    settings.BILLING_ISSUER_ADDRESS = "[NODE.name]"
    found = [m for m in run_checks() if m.id == "sigils.W001"]
    assert len(found) == 1
    assert "BILLING_ISSUER_NAME" in found[0].msg and "[NODE.nmae]" in found[0].msg
    node.name = "Site [ENV.NOT_LISTED]"
    node.save(update_fields=["name"])
    found = [m.msg for m in run_checks() if m.id == "sigils.W001"]
    assert any("Node.name" in msg and "[ENV.NOT_LISTED]" in msg for msg in found)


def test_the_check_flags_bad_and_secret_looking_allow_lists(settings) -> None:
    settings.SIGILS_ENV_ALLOW = ["SITE_CODE", "bad.name", "API_TOKEN"]
    settings.SIGILS_CONF_ALLOW = ["SECRET_KEY", "DATABASES", "NO_SUCH_SETTING"]
    found = {(m.id, m.msg.split(" lists ")[1].split(",")[0]) for m in run_checks()}
    assert ("sigils.E001", "'bad.name'") in found
    assert ("sigils.E001", "'SECRET_KEY'") in found
    assert ("sigils.W002", "'API_TOKEN'") in found
    assert ("sigils.W002", "'DATABASES'") in found
    assert ("sigils.W003", "'NO_SUCH_SETTING'") in found
    assert not any(name == "'SITE_CODE'" for _id, name in found)


def test_the_node_page_shows_the_name_resolved_and_warns_of_unknown_sigils(
    node: Node, staff_client
) -> None:
    node.name = "Gate [NODE.port] [NODE.oops]"
    node.save(update_fields=["name"])
    client = staff_client("nodes.view_node")
    html = client.get(reverse("admin:nodes_node_change", args=[node.pk])).content.decode()
    assert "Gate 8443 [NODE.oops]" in html
    assert "The node&#x27;s name has the sigil [NODE.oops] left as typed" in html
    assert reverse("admin:nodes_node_sigils") in html


# --- The admin preview ----------------------------------------------------------------------

PREVIEW = "admin:nodes_node_sigils"


def test_the_preview_is_for_staff_only(client, django_user_model, staff_client) -> None:
    url = reverse(PREVIEW)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    user = django_user_model.objects.create_user(username="plain", password="x" * 20)
    client.force_login(user)
    response = client.post(url, {"text": "[NODE.name]"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert staff_client().get(url).status_code == 403  # staff without nodes.view_node


def test_the_preview_resolves_a_text_and_flags_unknown_sigils(
    node: Node, staff_client, settings, monkeypatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-never-shown")
    settings.SIGILS_ENV_ALLOW = ["API_TOKEN"]
    client = staff_client("nodes.view_node")
    text = "Hello [NODE.name], [NODE.__class__] [ENV.API_TOKEN] [[NODE.port]"
    response = client.post(reverse(PREVIEW), {"text": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="sigil-value" title="[NODE.name]">pi-by-the-gate</span>' in html
    assert '<mark title="field not allowed for this root">[NODE.__class__]</mark>' in html
    assert '<mark title="secret: not resolved here">[ENV.API_TOKEN]</mark>' in html
    assert "[NODE.port]" in html and "tok-never-shown" not in html
    assert 'id="sigil-problems"' in html
    # The texts in use and the roots' fields are listed.
    assert "BILLING_ISSUER_NAME" in html and "Node.name" in html
    assert "<code>hostname</code>" in html


def test_the_preview_rejects_an_over_long_text_with_a_message(node: Node, staff_client) -> None:
    client = staff_client("nodes.view_node")
    response = client.post(reverse(PREVIEW), {"text": "x" * 10_001})
    assert response.status_code == 400
    assert "Ensure this value has at most 10000 characters" in response.content.decode()


def test_the_preview_speaks_italian(node: Node, staff_client) -> None:
    client = staff_client("nodes.view_node")
    response = client.post(
        reverse(PREVIEW), {"text": "[NODE.nope]"}, headers={"accept-language": "it"}
    )
    html = response.content.decode()
    assert "Anteprima dei sigilli" in html
    assert "campo non consentito per questa radice" in html
