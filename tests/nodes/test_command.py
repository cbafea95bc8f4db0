"""`manage.py node`: show this node and its features, switch them, change the role."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.nodes import features
from apps.nodes.features import CATALOGUE
from apps.nodes.models import FeatureSwitch, Node, Role
from apps.nodes.services import set_switch, this_node
from tests.nodes.conftest import DevTree

pytestmark = pytest.mark.django_db


def node(*args: str) -> str:
    out = StringIO()
    call_command("node", *args, stdout=out)
    return out.getvalue()


def exit_code(*args: str) -> int:
    with pytest.raises(SystemExit) as raised:
        call_command("node", *args, stdout=StringIO())
    return int(raised.value.code)


def test_it_shows_the_node_and_every_feature_state(dev_tree: DevTree, settings) -> None:
    settings.NODE_ROLE = "control"
    settings.NODE_NAME = "pi-7"
    text = node()
    assert text.startswith("pi-7 — Control (")
    for slug in CATALOGUE:
        assert f"  {slug} " in text
    assert "lcd-screen       auto  off (auto), not detected: no I2C bus at /dev/i2c-1" in text


def test_its_json_has_every_features_slug_mode_state_detected_and_active(
    dev_tree: DevTree, settings
) -> None:
    settings.NODE_ROLE = "control"
    dev_tree.add("/dev/i2c-1")
    data = json.loads(node("--json"))
    assert data["role"] == "control"
    assert data["name"] == this_node().name
    by_slug = {item["slug"]: item for item in data["features"]}
    assert list(by_slug) == list(CATALOGUE)
    for item in by_slug.values():
        assert {"slug", "mode", "state", "detected", "active", "detail"} <= item.keys()
    assert by_slug["lcd-screen"]["mode"] == "auto"
    assert by_slug["lcd-screen"]["detected"] is True
    assert by_slug["lcd-screen"]["active"] is True
    assert by_slug["lcd-screen"]["state"] == "on (role default), detected: I2C bus /dev/i2c-1"
    assert by_slug["rfid-scanner"]["detected"] is False
    assert by_slug["rfid-scanner"]["active"] is False


def test_it_switches_features_and_records_who(dev_tree: DevTree) -> None:
    data = json.loads(node("--feature", "lcd-screen=on", "--feature", "gui-toast=off", "--json"))
    by_slug = {item["slug"]: item for item in data["features"]}
    assert (by_slug["lcd-screen"]["mode"], by_slug["lcd-screen"]["active"]) == ("on", True)
    assert (by_slug["gui-toast"]["mode"], by_slug["gui-toast"]["active"]) == ("off", False)
    switch = FeatureSwitch.objects.get(slug="lcd-screen")
    assert switch.changed_by == "manage.py node"


def test_it_changes_the_role(dev_tree: DevTree) -> None:
    this_node()
    data = json.loads(node("--role", "watchtower", "--json"))
    assert data["role"] == "watchtower"
    assert Node.objects.get(local=True).role == Role.WATCHTOWER
    with pytest.raises(CommandError, match="invalid choice: 'cloud'"):
        node("--role", "cloud")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("lcd=on", "unknown feature 'lcd'; known: gui-toast, "),
        ("lcd-screen=yes", "--feature wants SLUG=on|off|auto, not 'lcd-screen=yes'"),
        ("lcd-screen", "--feature wants SLUG=on|off|auto, not 'lcd-screen'"),
    ],
)
def test_it_refuses_a_bad_switch_and_changes_nothing(
    dev_tree: DevTree, item: str, message: str
) -> None:
    with pytest.raises(CommandError) as raised:
        node("--feature", "gui-toast=off", "--feature", item)
    assert message in str(raised.value)
    assert not FeatureSwitch.objects.exists()


def test_active_answers_by_exit_code(dev_tree: DevTree) -> None:
    set_switch(features.NGINX_SERVER, "on")
    assert exit_code("--active", "nginx-server") == 0
    set_switch(features.NGINX_SERVER, "off")
    assert exit_code("--active", "nginx-server") == 1
    with pytest.raises(CommandError, match="unknown feature 'nginx'") as raised:
        node("--active", "nginx")
    assert raised.value.returncode == 2


def test_refresh_records_the_last_sight(dev_tree: DevTree) -> None:
    assert this_node().last_seen is None
    data = json.loads(node("--refresh", "--json"))
    assert data["last_seen"] is not None
    assert Node.objects.get(local=True).last_seen is not None
