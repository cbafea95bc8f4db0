"""The feature catalogue: the issue's role table, detection on fake device trees, switches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from apps.nodes import features
from apps.nodes.features import CATALOGUE, feature_active, feature_state, feature_states
from apps.nodes.models import Mode, Role
from apps.nodes.services import set_role, set_switch, this_node
from tests.nodes.conftest import DevTree

pytestmark = pytest.mark.django_db

# The issue's table, word for word: role → features on by default.
ROLE_DEFAULTS = {
    Role.TERMINAL: {"GUI Toast"},
    Role.CONTROL: {
        "AP Public Wi-Fi",
        "Celery Queue",
        "GUI Toast",
        "LCD Screen",
        "NGINX Server",
        "RFID Scanner",
    },
    Role.SATELLITE: {"AP Router", "Celery Queue", "NGINX Server", "RFID Scanner"},
    Role.WATCHTOWER: {"Celery Queue", "NGINX Server"},
}
HARDWARE = {"ap-public-wifi", "ap-router", "lcd-screen", "rfid-scanner"}


def test_the_catalogue_defaults_each_role_as_the_issue_says() -> None:
    for role, names in ROLE_DEFAULTS.items():
        defaulted = {str(f.name) for f in CATALOGUE.values() if role in f.default_roles}
        assert defaulted == names, role
    assert {str(f.name) for f in CATALOGUE.values()} == set().union(*ROLE_DEFAULTS.values())


def test_the_hardware_features_are_the_devices() -> None:
    assert {slug for slug, f in CATALOGUE.items() if f.hardware} == HARDWARE


def test_each_feature_has_a_description() -> None:
    for feature in CATALOGUE.values():
        assert len(str(feature.description)) > 20, feature.slug


def detail(slug: str) -> str:
    features.invalidate()
    return feature_state(slug).detection.detail


def detected(slug: str) -> bool:
    features.invalidate()
    return feature_state(slug).detection.present


# --- detection, device by device -------------------------------------------------------------


def test_it_finds_no_i2c_bus_on_an_empty_node(dev_tree: DevTree) -> None:
    assert not detected(features.LCD_SCREEN)
    assert detail(features.LCD_SCREEN) == "no I2C bus at /dev/i2c-1"


def test_it_finds_the_configured_i2c_bus(dev_tree: DevTree, settings) -> None:
    dev_tree.add("/dev/i2c-1")
    assert detected(features.LCD_SCREEN)
    assert detail(features.LCD_SCREEN) == "I2C bus /dev/i2c-1"
    settings.LCD_I2C_BUS = 0
    assert not detected(features.LCD_SCREEN)
    assert detail(features.LCD_SCREEN) == "no I2C bus at /dev/i2c-0"


def test_it_finds_no_card_reader_on_an_empty_node(dev_tree: DevTree) -> None:
    assert not detected(features.RFID_SCANNER)
    assert detail(features.RFID_SCANNER) == (
        "no serial port (/dev/ttyUSB*, /dev/ttyACM*, /dev/serial0); no SPI device at /dev/spidev0.0"
    )


def test_it_finds_a_usb_serial_reader(dev_tree: DevTree) -> None:
    dev_tree.add("/dev/ttyUSB0")
    assert detected(features.RFID_SCANNER)
    assert detail(features.RFID_SCANNER) == "serial reader at /dev/ttyUSB0"


def test_it_looks_only_at_the_configured_serial_port(dev_tree: DevTree, settings) -> None:
    dev_tree.add("/dev/ttyUSB0")
    settings.RFID_READER = "serial"
    settings.RFID_SERIAL_PORT = "/dev/ttyAMA0"
    assert not detected(features.RFID_SCANNER)
    assert detail(features.RFID_SCANNER) == "no serial port at /dev/ttyAMA0"
    dev_tree.add("/dev/ttyAMA0")
    assert detail(features.RFID_SCANNER) == "serial reader at /dev/ttyAMA0"


def test_it_says_when_spi_is_there_but_the_mfrc522_package_is_not(
    dev_tree: DevTree, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RFID_READER = "mfrc522"
    dev_tree.add("/dev/spidev0.0")
    # As on a machine without requirements-pi.txt: the package cannot be imported.
    monkeypatch.setitem(sys.modules, "mfrc522", None)
    assert not detected(features.RFID_SCANNER)
    assert detail(features.RFID_SCANNER) == (
        "SPI device /dev/spidev0.0, but the mfrc522 package is not installed"
    )


def test_it_finds_an_mfrc522_reader_on_spi(
    dev_tree: DevTree, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings.RFID_READER = "mfrc522"
    settings.RFID_SPI_DEVICE = 1
    # The package as requirements-pi.txt installs it (only found, never imported here).
    package = tmp_path / "site" / "mfrc522"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.delitem(sys.modules, "mfrc522", raising=False)
    monkeypatch.syspath_prepend(str(package.parent))
    assert detail(features.RFID_SCANNER) == "no SPI device at /dev/spidev0.1"
    dev_tree.add("/dev/spidev0.1")
    assert detected(features.RFID_SCANNER)
    assert detail(features.RFID_SCANNER) == "MFRC522 on /dev/spidev0.1"


def test_a_serial_reader_setting_ignores_spi(dev_tree: DevTree, settings) -> None:
    settings.RFID_READER = "serial"
    dev_tree.add("/dev/spidev0.0")
    assert not detected(features.RFID_SCANNER)


def test_it_needs_nmcli_and_a_wireless_interface_for_an_access_point(dev_tree: DevTree) -> None:
    for slug in (features.AP_PUBLIC_WIFI, features.AP_ROUTER):
        assert detail(slug) == "nmcli not found (NetworkManager)"
    nmcli = dev_tree.program("nmcli")
    (dev_tree.root / "sys/class/net/eth0").mkdir(parents=True)  # wired: not an access point
    assert not detected(features.AP_ROUTER)
    assert detail(features.AP_ROUTER) == "no wireless interface in /sys/class/net"
    dev_tree.wireless("wlan0")
    for slug in (features.AP_PUBLIC_WIFI, features.AP_ROUTER):
        assert detected(slug)
        assert detail(slug) == "NetworkManager, wireless wlan0"
    nmcli.unlink()
    assert not detected(features.AP_PUBLIC_WIFI)


def test_it_finds_nginx_on_path_or_in_sbin(dev_tree: DevTree) -> None:
    assert not detected(features.NGINX_SERVER)
    assert detail(features.NGINX_SERVER) == "nginx not installed"
    program = dev_tree.program("nginx")
    assert detail(features.NGINX_SERVER) == f"nginx at {program}"
    program.unlink()
    # Debian's nginx is in /usr/sbin, which is not on an ordinary user's PATH.
    sbin = dev_tree.add("/usr/sbin/nginx")
    sbin.chmod(0o755)
    assert detected(features.NGINX_SERVER)
    assert detail(features.NGINX_SERVER) == f"nginx at {sbin}"


def test_it_needs_a_desktop_session_and_notify_send_for_toasts(
    dev_tree: DevTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert detail(features.GUI_TOAST) == "no desktop session (DISPLAY and WAYLAND_DISPLAY unset)"
    monkeypatch.setenv("DISPLAY", ":0")
    assert not detected(features.GUI_TOAST)
    assert detail(features.GUI_TOAST) == "notify-send not found (package libnotify-bin)"
    program = dev_tree.program("notify-send")
    assert detected(features.GUI_TOAST)
    assert detail(features.GUI_TOAST) == f"desktop session, {program}"
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert detected(features.GUI_TOAST)


def test_it_needs_celery_and_a_broker_for_the_queue(
    dev_tree: DevTree, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert detected(features.CELERY_QUEUE)
    assert detail(features.CELERY_QUEUE) == "broker redis://"
    settings.CELERY_BROKER_URL = ""
    assert detail(features.CELERY_QUEUE) == "no broker (CELERY_BROKER_URL)"
    settings.CELERY_BROKER_URL = "filesystem://"
    monkeypatch.setitem(sys.modules, "celery", None)
    assert not detected(features.CELERY_QUEUE)
    assert detail(features.CELERY_QUEUE) == "celery is not installed"


def test_a_node_without_hardware_detects_no_hardware_feature(dev_tree: DevTree, settings) -> None:
    settings.NODE_ROLE = Role.CONTROL
    this_node()
    states = feature_states()
    assert list(states) == list(CATALOGUE)
    for slug in HARDWARE:
        assert not states[slug].detection.present, slug
        assert not states[slug].active, slug
        assert states[slug].describe().startswith("off (auto), not detected: "), slug


# --- switches --------------------------------------------------------------------------------


def test_off_is_never_active(dev_tree: DevTree) -> None:
    set_role(Role.CONTROL)
    dev_tree.add("/dev/i2c-1")
    assert feature_active(features.LCD_SCREEN)
    set_switch(features.LCD_SCREEN, Mode.OFF)
    assert not feature_active(features.LCD_SCREEN)
    assert feature_state(features.LCD_SCREEN).describe() == "off, detected: I2C bus /dev/i2c-1"


def test_on_is_always_active(dev_tree: DevTree) -> None:
    set_role(Role.WATCHTOWER)  # no LCD by default, and none detected
    set_switch(features.LCD_SCREEN, Mode.ON)
    assert feature_active(features.LCD_SCREEN)
    assert feature_state(features.LCD_SCREEN).describe() == (
        "on, not detected: no I2C bus at /dev/i2c-1"
    )


@pytest.mark.parametrize(
    ("role", "present", "active"),
    [
        (Role.CONTROL, True, True),
        (Role.CONTROL, False, False),
        (Role.SATELLITE, True, False),
        (Role.TERMINAL, False, False),
    ],
)
def test_auto_is_the_role_default_when_detected(
    dev_tree: DevTree, role: str, present: bool, active: bool
) -> None:
    set_role(role)
    if present:
        dev_tree.add("/dev/i2c-1")
    set_switch(features.LCD_SCREEN, Mode.AUTO)
    state = feature_state(features.LCD_SCREEN)
    assert state.active is active
    assert state.describe().startswith("on (role default), " if active else "off (auto), ")


def test_a_switch_takes_effect_at_once_despite_the_cache(dev_tree: DevTree) -> None:
    set_role(Role.TERMINAL)
    assert not feature_active(features.NGINX_SERVER)
    set_switch(features.NGINX_SERVER, Mode.ON)
    assert feature_active(features.NGINX_SERVER)


def test_it_refuses_unknown_features_and_modes(dev_tree: DevTree) -> None:
    with pytest.raises(ValueError, match="unknown feature 'lcd'"):
        set_switch("lcd", Mode.ON)
    with pytest.raises(ValueError, match="unknown mode 'yes'"):
        set_switch(features.LCD_SCREEN, "yes")
    with pytest.raises(KeyError):
        feature_active("lcd")
    with pytest.raises(ValueError, match="unknown role"):
        set_role("cloud")
