"""The feature catalogue: what a node can do, whether the hardware or service is there, and
whether the operator wants it.

Each feature has a slug, a description, the roles that default it on, and a detection check
(is the device or program present). The operator's switch (`FeatureSwitch`: on / off / auto)
decides with them whether the feature is active:

- off: never active;
- on: active, even where detection finds nothing (the operator knows better; the service then
  reports what it cannot open);
- auto: active when the node's role defaults it on and it is detected.

Behaviour elsewhere asks `feature_active(slug)`, never the role name. Detection looks at
paths under `settings.NODE_DEV_ROOT` (default "/"), so tests give it fake /dev and /sys trees.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.nodes.models import Mode, Role

GUI_TOAST = "gui-toast"
AP_PUBLIC_WIFI = "ap-public-wifi"
AP_ROUTER = "ap-router"
CELERY_QUEUE = "celery-queue"
LCD_SCREEN = "lcd-screen"
NGINX_SERVER = "nginx-server"
RFID_SCANNER = "rfid-scanner"


@dataclass(frozen=True, slots=True)
class Detection:
    """Whether a feature's device or program is present, and what was found or missed."""

    present: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Feature:
    slug: str
    name: str
    description: str
    default_roles: frozenset[str]
    detect: Callable[[], Detection]
    hardware: bool = False


def dev_path(path: str) -> Path:
    """Return `path` (absolute, e.g. "/dev/i2c-1") under the detection root."""
    root = Path(getattr(settings, "NODE_DEV_ROOT", "/") or "/")
    return root / path.lstrip("/")


def shown(path: Path) -> str:
    """Return `path` as the node sees it (without the detection root)."""
    root = str(Path(getattr(settings, "NODE_DEV_ROOT", "/") or "/"))
    text = str(path)
    if root != "/" and text.startswith(root):
        text = text[len(root) :] or "/"
    return text


def _program(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = dev_path(f"{folder}/{name}")
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def serial_ports() -> list[Path]:
    """Return the serial ports an RFID reader may be on: the configured one, else USB/UART."""
    configured = getattr(settings, "RFID_SERIAL_PORT", "")
    if configured:
        return [dev_path(configured)]
    found: list[Path] = []
    for pattern in ("/dev/ttyUSB*", "/dev/ttyACM*", "/dev/serial0"):
        found.extend(Path(p) for p in sorted(glob.glob(str(dev_path(pattern)))))
    return found


def spi_device() -> Path:
    bus = getattr(settings, "RFID_SPI_BUS", 0)
    device = getattr(settings, "RFID_SPI_DEVICE", 0)
    return dev_path(f"/dev/spidev{bus}.{device}")


def i2c_bus() -> Path:
    return dev_path(f"/dev/i2c-{getattr(settings, 'LCD_I2C_BUS', 1)}")


def detect_rfid() -> Detection:
    reader = getattr(settings, "RFID_READER", "auto")
    missed: list[str] = []
    if reader in ("auto", "serial"):
        ports = [p for p in serial_ports() if p.exists()]
        if ports:
            return Detection(True, str(_("serial reader at %(port)s")) % {"port": shown(ports[0])})
        configured = getattr(settings, "RFID_SERIAL_PORT", "")
        missed.append(
            str(_("no serial port at %(port)s")) % {"port": configured}
            if configured
            else str(_("no serial port (/dev/ttyUSB*, /dev/ttyACM*, /dev/serial0)"))
        )
    if reader in ("auto", "mfrc522"):
        spi = spi_device()
        if not spi.exists():
            missed.append(str(_("no SPI device at %(path)s")) % {"path": shown(spi)})
        elif importlib.util.find_spec("mfrc522") is None:
            missed.append(
                str(_("SPI device %(path)s, but the mfrc522 package is not installed"))
                % {"path": shown(spi)}
            )
        else:
            return Detection(True, str(_("MFRC522 on %(path)s")) % {"path": shown(spi)})
    return Detection(False, "; ".join(missed) or str(_("no reader configured")))


def detect_lcd() -> Detection:
    bus = i2c_bus()
    if bus.exists():
        return Detection(True, str(_("I2C bus %(path)s")) % {"path": shown(bus)})
    return Detection(False, str(_("no I2C bus at %(path)s")) % {"path": shown(bus)})


def detect_desktop() -> Detection:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return Detection(False, str(_("no desktop session (DISPLAY and WAYLAND_DISPLAY unset)")))
    program = _program("notify-send")
    if program is None:
        return Detection(False, str(_("notify-send not found (package libnotify-bin)")))
    return Detection(True, str(_("desktop session, %(program)s")) % {"program": program})


def wireless_interfaces() -> list[str]:
    net = dev_path("/sys/class/net")
    if not net.is_dir():
        return []
    return sorted(p.name for p in net.iterdir() if (p / "wireless").exists())


def detect_access_point() -> Detection:
    if _program("nmcli") is None:
        return Detection(False, str(_("nmcli not found (NetworkManager)")))
    interfaces = wireless_interfaces()
    if not interfaces:
        return Detection(False, str(_("no wireless interface in /sys/class/net")))
    return Detection(
        True, str(_("NetworkManager, wireless %(names)s")) % {"names": ", ".join(interfaces)}
    )


def detect_nginx() -> Detection:
    program = _program("nginx")
    if program is None:
        return Detection(False, str(_("nginx not installed")))
    return Detection(True, str(_("nginx at %(program)s")) % {"program": program})


def detect_celery() -> Detection:
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if importlib.util.find_spec("celery") is None:
        return Detection(False, str(_("celery is not installed")))
    if not broker:
        return Detection(False, str(_("no broker (CELERY_BROKER_URL)")))
    scheme = broker.split("://", 1)[0]
    return Detection(True, str(_("broker %(scheme)s://")) % {"scheme": scheme})


ALL_ROLES = frozenset(Role.values)

CATALOGUE: dict[str, Feature] = {
    f.slug: f
    for f in (
        Feature(
            GUI_TOAST,
            _("GUI Toast"),
            _("Desktop notifications of faults, sessions, refused cards and security events."),
            frozenset({Role.TERMINAL, Role.CONTROL}),
            detect_desktop,
        ),
        Feature(
            AP_PUBLIC_WIFI,
            _("AP Public Wi-Fi"),
            _("A public Wi-Fi access point with client isolation (NetworkManager)."),
            frozenset({Role.CONTROL}),
            detect_access_point,
            hardware=True,
        ),
        Feature(
            AP_ROUTER,
            _("AP Router"),
            _("A routed Wi-Fi access point with NAT for a site's devices (NetworkManager)."),
            frozenset({Role.SATELLITE}),
            detect_access_point,
            hardware=True,
        ),
        Feature(
            CELERY_QUEUE,
            _("Celery Queue"),
            _("The Celery worker and beat (scheduled work) started with the server."),
            frozenset({Role.CONTROL, Role.SATELLITE, Role.WATCHTOWER}),
            detect_celery,
        ),
        Feature(
            LCD_SCREEN,
            _("LCD Screen"),
            _("A 16x2 or 20x4 character LCD on I2C showing the node's state."),
            frozenset({Role.CONTROL}),
            detect_lcd,
            hardware=True,
        ),
        Feature(
            NGINX_SERVER,
            _("NGINX Server"),
            _("NGINX in front: HTTP, OCPP websockets, static files, TLS."),
            frozenset({Role.CONTROL, Role.SATELLITE, Role.WATCHTOWER}),
            detect_nginx,
        ),
        Feature(
            RFID_SCANNER,
            _("RFID Scanner"),
            _("An MFRC522 (SPI) or serial card reader that authorises and starts sessions."),
            frozenset({Role.CONTROL, Role.SATELLITE}),
            detect_rfid,
            hardware=True,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class FeatureState:
    feature: Feature
    mode: str
    role_default: bool
    detection: Detection

    @property
    def slug(self) -> str:
        return self.feature.slug

    @property
    def active(self) -> bool:
        if self.mode == Mode.OFF:
            return False
        if self.mode == Mode.ON:
            return True
        return self.role_default and self.detection.present

    def describe(self) -> str:
        """Return the state as an operator reads it, e.g. "on, not detected: no I2C bus…"."""
        if self.mode == Mode.AUTO:
            head = _("on (role default)") if self.active else _("off (auto)")
        else:
            head = _("on") if self.mode == Mode.ON else _("off")
        if self.detection.present:
            tail = str(_("detected: %(detail)s")) % {"detail": self.detection.detail}
        else:
            tail = str(_("not detected: %(detail)s")) % {"detail": self.detection.detail}
        return f"{head}, {tail}"

    def as_dict(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "name": str(self.feature.name),
            "mode": self.mode,
            "role_default": self.role_default,
            "detected": self.detection.present,
            "detail": self.detection.detail,
            "active": self.active,
            "state": self.describe(),
        }


# States are cached briefly: services ask often, detection reads the filesystem.
CACHE_S = 5.0
_cache_lock = threading.Lock()
_cache: tuple[float, dict[str, FeatureState]] | None = None


def invalidate() -> None:
    """Forget cached states (after a switch or the role changed)."""
    global _cache
    with _cache_lock:
        _cache = None


def feature_states(node=None) -> dict[str, FeatureState]:
    """Return every feature's state on this node (or `node`), in catalogue order."""
    global _cache
    if node is None:
        with _cache_lock:
            cached = _cache
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
    from apps.nodes.services import switches, this_node

    node = node or this_node()
    modes = switches(node)
    states = {
        slug: FeatureState(
            feature,
            modes.get(slug, Mode.AUTO),
            node.role in feature.default_roles,
            feature.detect(),
        )
        for slug, feature in CATALOGUE.items()
    }
    if node.local:
        with _cache_lock:
            _cache = (time.monotonic(), states)
    return states


def feature_state(slug: str) -> FeatureState:
    if slug not in CATALOGUE:
        raise KeyError(f"unknown feature {slug!r}")
    return feature_states()[slug]


def feature_active(slug: str) -> bool:
    """Tell whether feature `slug` is active on this node. Never raises for a known slug."""
    return feature_state(slug).active
