"""This node's Wi-Fi access point through NetworkManager: build, validate and run `nmcli`.

The command lines are argument lists (never shell strings), built from an `ApSpec` that was
validated first, so an SSID or passphrase can hold any character without quoting trouble.

- Public mode (feature ap-public-wifi): NetworkManager's "shared" IPv4 (its own dnsmasq gives
  out addresses, NAT to the uplink) and client isolation (`802-11-wireless.ap-isolation`,
  NetworkManager 1.28 or later): guests reach the internet and this node, not each other.
  It may be an open network (no passphrase), as public hotspots often are.
- Router mode (feature ap-router): the same shared/NAT, without isolation, so a site's devices
  (chargers, meters) see each other; it always needs a WPA2 passphrase.

Running the commands needs root; the lifecycle scripts do it (`manage.py access_point --apply`).
The admin only reads the status (`nmcli -t`) and the clients (`iw station dump` and the
dnsmasq leases file), which any user may.

The passphrase is a secret: `commands_shown` masks it, and nothing here logs it. It travels
as an argument to nmcli (NetworkManager stores it in its own root-only connection file).
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from apps.hardware.models import AccessPoint

logger = logging.getLogger(__name__)

CONNECTION = "constellation-ap"
PUBLIC = "public"
ROUTER = "router"
BANDS = ("bg", "a")
MASK = "********"
TIMEOUT_S = 20.0
# NetworkManager's dnsmasq for a shared connection keeps its leases here.
LEASES = "/var/lib/NetworkManager/dnsmasq-{interface}.leases"


class AccessPointError(ValueError):
    """A configuration that cannot become a valid access point (the message says why)."""


@dataclass(frozen=True, slots=True)
class ApSpec:
    """A validated access point: build one with `ap_spec`."""

    interface: str
    ssid: str
    password: str
    band: str
    channel: int | None
    mode: str
    address: str  # this node's address on the AP and the prefix, e.g. "10.42.0.1/24"


def ap_spec(
    *,
    interface: str,
    ssid: str,
    password: str,
    band: str,
    channel: int | None,
    mode: str,
    address: str,
) -> ApSpec:
    """Validate an access point's settings; raise AccessPointError saying what is wrong."""
    errors = ap_errors(
        interface=interface,
        ssid=ssid,
        password=password,
        band=band,
        channel=channel,
        mode=mode,
        address=address,
    )
    if errors:
        raise AccessPointError(" ".join(errors.values()))
    return ApSpec(interface, ssid, password, band, channel, mode, address)


def ap_errors(
    *,
    interface: str,
    ssid: str,
    password: str,
    band: str,
    channel: int | None,
    mode: str,
    address: str,
) -> dict[str, str]:
    """Return field → error for every invalid setting (empty when all are valid)."""
    errors: dict[str, str] = {}
    if (
        not interface
        or len(interface) > 15
        or not all(c.isalnum() or c in "-_." for c in interface)
    ):
        errors["interface"] = _(
            "The interface must be a network interface name (letters, digits, - _ .; at most "
            "15 characters), e.g. wlan0."
        )
    size = len(ssid.encode("utf-8"))
    if not 1 <= size <= 32:
        errors["ssid"] = _("The SSID must be 1 to 32 bytes in UTF-8 (it is %(size)s).") % {
            "size": size
        }
    elif any(ord(c) < 32 or ord(c) == 127 for c in ssid):
        errors["ssid"] = _("The SSID may not hold control characters.")
    if mode not in (PUBLIC, ROUTER):
        errors["mode"] = _("The mode must be public or router.")
    if password:
        if not 8 <= len(password) <= 63:
            errors["password"] = _(
                "A WPA2 passphrase is 8 to 63 characters (it has %(count)s)."
            ) % {"count": len(password)}
        elif not all(32 <= ord(c) <= 126 for c in password):
            errors["password"] = _(
                "A WPA2 passphrase holds printable ASCII characters only (no accents, emoji "
                "or control characters)."
            )
    elif mode == ROUTER:
        errors["password"] = _("Router mode needs a WPA2 passphrase (8 to 63 characters).")
    if band not in BANDS:
        errors["band"] = _("The band must be bg (2.4 GHz) or a (5 GHz).")
    elif channel is not None and channel not in _channels(band):
        errors["channel"] = _("Channel %(channel)s is not a %(band)s channel.") % {
            "channel": channel,
            "band": "2.4 GHz" if band == "bg" else "5 GHz",
        }
    try:
        network = ipaddress.IPv4Interface(address)
    except ValueError:
        errors["address"] = _(
            "The address must be an IPv4 address with its prefix, e.g. 10.42.0.1/24."
        )
    else:
        if not network.ip.is_private or not 16 <= network.network.prefixlen <= 30:
            errors["address"] = _(
                "The address must be a private IPv4 address with a prefix from /16 to /30, "
                "e.g. 10.42.0.1/24."
            )
        elif network.ip in (network.network.network_address, network.network.broadcast_address):
            errors["address"] = _("The address may not be its network's first or last address.")
    return errors


def _channels(band: str) -> set[int]:
    if band == "bg":
        return set(range(1, 14))
    return {36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140}


def ap_commands(spec: ApSpec) -> list[list[str]]:
    """Return the nmcli command lines that (re)create and bring up the access point.

    The first (deleting an earlier connection of ours) may fail when there is none.
    """
    add = [
        "nmcli", "connection", "add",
        "type", "wifi",
        "ifname", spec.interface,
        "con-name", CONNECTION,
        "autoconnect", "yes",
        "ssid", spec.ssid,
        "802-11-wireless.mode", "ap",
        "802-11-wireless.band", spec.band,
    ]  # fmt: skip
    if spec.channel is not None:
        add += ["802-11-wireless.channel", str(spec.channel)]
    # Public: guests must not reach each other's devices. Router: a site's devices must.
    add += ["802-11-wireless.ap-isolation", "yes" if spec.mode == PUBLIC else "no"]
    add += ["ipv4.method", "shared", "ipv4.addresses", spec.address, "ipv6.method", "ignore"]
    if spec.password:
        add += ["wifi-sec.key-mgmt", "wpa-psk", "wifi-sec.proto", "rsn"]
        add += ["wifi-sec.pairwise", "ccmp", "wifi-sec.group", "ccmp"]
        add += ["wifi-sec.psk", spec.password]
    return [
        ["nmcli", "connection", "delete", CONNECTION],
        add,
        ["nmcli", "connection", "up", CONNECTION],
    ]


def ap_down_commands() -> list[list[str]]:
    """Return the nmcli command lines that take the access point down and forget it."""
    return [["nmcli", "connection", "delete", CONNECTION]]


def commands_shown(commands: list[list[str]]) -> list[list[str]]:
    """Return `commands` with the passphrase masked, for printing."""
    shown = []
    for argv in commands:
        argv = list(argv)
        for i, arg in enumerate(argv[:-1]):
            if arg == "wifi-sec.psk":
                argv[i + 1] = MASK
        shown.append(argv)
    return shown


@dataclass(frozen=True, slots=True)
class Outcome:
    argv: list[str]  # masked
    returncode: int
    output: str


def ap_apply(commands: list[list[str]]) -> list[Outcome]:
    """Run `commands` in order (the first may fail: there was no connection to delete).

    Stop at the first other failure. Raise AccessPointError when nmcli is missing.
    """
    if shutil.which("nmcli") is None:
        raise AccessPointError(_("nmcli not found: install NetworkManager."))
    outcomes: list[Outcome] = []
    shown = commands_shown(commands)
    for index, (argv, masked) in enumerate(zip(commands, shown, strict=True)):
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
            outcome = Outcome(masked, done.returncode, (done.stdout + done.stderr).strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            outcome = Outcome(masked, -1, str(exc))
        outcomes.append(outcome)
        deleting = argv[1:3] == ["connection", "delete"]
        if outcome.returncode != 0 and not (index == 0 and deleting and len(commands) > 1):
            break
    return outcomes


# --- status -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Client:
    mac: str
    ip: str = ""
    hostname: str = ""
    signal_dbm: int | None = None
    connected_s: int | None = None


@dataclass(slots=True)
class ApStatus:
    available: bool  # nmcli could be asked
    active: bool = False
    ssid: str = ""
    addresses: list[str] = field(default_factory=list)
    detail: str = ""
    clients: list[Client] = field(default_factory=list)


def split_terse(line: str) -> list[str]:
    """Split a line of `nmcli -t` output at its unescaped colons (values escape ':' as '\\:')."""
    fields: list[str] = []
    current: list[str] = []
    chars = iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


STATUS_FIELDS = "GENERAL.STATE,802-11-wireless.ssid,IP4.ADDRESS"


def status_command() -> list[str]:
    return ["nmcli", "-t", "-f", STATUS_FIELDS, "connection", "show", CONNECTION]


def parse_status(text: str) -> ApStatus:
    """Parse `nmcli -t -f GENERAL.STATE,802-11-wireless.ssid,IP4.ADDRESS connection show`."""
    status = ApStatus(available=True)
    for line in text.splitlines():
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        value = split_terse(value)[0] if value else ""
        if name == "GENERAL.STATE":
            status.active = value == "activated"
            status.detail = value
        elif name == "802-11-wireless.ssid":
            status.ssid = value
        elif name.startswith("IP4.ADDRESS") and value:
            status.addresses.append(value)
    if not status.detail:
        status.detail = "inactive"
    return status


def parse_station_dump(text: str) -> list[Client]:
    """Parse `iw dev IF station dump`: one client per "Station MAC (on IF)" block."""
    clients: list[Client] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Station "):
            parts = line.split()
            if len(parts) >= 2:
                clients.append(Client(mac=parts[1].lower()))
            continue
        if not clients or ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        number = value.split()[0] if value.split() else ""
        try:
            if key == "signal":
                clients[-1].signal_dbm = int(number)
            elif key == "connected time":
                clients[-1].connected_s = int(number)
        except ValueError:
            continue
    return clients


def parse_leases(text: str) -> dict[str, tuple[str, str]]:
    """Parse a dnsmasq leases file ("expiry mac ip hostname clientid"): mac → (ip, hostname)."""
    leases: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            hostname = "" if parts[3] == "*" else parts[3]
            leases[parts[1].lower()] = (parts[2], hostname)
    return leases


def merge_clients(stations: list[Client], leases: dict[str, tuple[str, str]]) -> list[Client]:
    """Give each associated station its leased address and host name."""
    for client in stations:
        client.ip, client.hostname = leases.get(client.mac, ("", ""))
    return stations


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr.strip()


def ap_status(*, interface: str, leases_path: str | None = None) -> ApStatus:
    """Ask NetworkManager for the access point's state, and iw for its clients."""
    if shutil.which("nmcli") is None:
        return ApStatus(available=False, detail=_("nmcli not found (NetworkManager)"))
    code, text = _run(status_command())
    if code != 0:
        return ApStatus(available=True, detail=text or _("no access point connection"))
    status = parse_status(text)
    if status.active and shutil.which("iw") is not None:
        code, dump = _run(["iw", "dev", interface, "station", "dump"])
        if code == 0:
            path = Path(leases_path or LEASES.format(interface=interface))
            try:
                leases = parse_leases(path.read_text())
            except OSError:
                leases = {}
            status.clients = merge_clients(parse_station_dump(dump), leases)
    return status


# --- the configured access point ----------------------------------------------------------------


def access_point_get(*, interface: str | None = None) -> AccessPoint | None:
    """Return the configured access point (of `interface`, else the only or first one)."""
    found = AccessPoint.objects.all()
    if interface:
        found = found.filter(interface=interface)
    return found.order_by("pk").first()


def access_point_spec(*, access_point: AccessPoint) -> ApSpec:
    """Validate a configured `AccessPoint`; raise AccessPointError saying what is wrong."""
    return ap_spec(
        interface=access_point.interface,
        ssid=access_point.ssid,
        password=access_point.password,
        band=access_point.band,
        channel=access_point.channel,
        mode=access_point.mode,
        address=access_point.address,
    )
