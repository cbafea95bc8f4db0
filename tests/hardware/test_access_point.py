"""The access point: nmcli command lines built and validated, status and clients parsed, and
`manage.py access_point` run against a recording stand-in nmcli on PATH."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.hardware import access_point as ap
from apps.hardware.models import AccessPoint
from apps.nodes.services import set_switch

VALID = {
    "interface": "wlan0",
    "ssid": "Constellation Café",
    "password": "s3cret-passphrase",
    "band": "bg",
    "channel": 6,
    "mode": "public",
    "address": "10.42.0.1/24",
}

NMCLI_STATUS = (
    "GENERAL.STATE:activated\n"
    "802-11-wireless.ssid:Constellation\\: guests\n"
    "IP4.ADDRESS[1]:10.42.0.1/24\n"
)
STATION_DUMP = """Station 3c:22:fb:11:22:33 (on wlan0)
\tinactive time:\t1200 ms
\trx bytes:\t123456
\tsignal:  \t-47 [-47] dBm
\tconnected time:\t315 seconds
Station AA:BB:CC:00:00:01 (on wlan0)
\tinactive time:\t40 ms
\tsignal:  \t-71 [-71] dBm
\tconnected time:\t12 seconds
"""
LEASES = (
    "1733400000 3c:22:fb:11:22:33 10.42.0.57 phone-anna 01:3c:22:fb:11:22:33\n"
    "1733400100 aa:bb:cc:00:00:01 10.42.0.80 * *\n"
    "1733400200 de:ad:be:ef:00:00 10.42.0.99 gone *\n"
)


def spec(**changes: object) -> ap.ApSpec:
    return ap.ap_spec(**{**VALID, **changes})


class TestCommands:
    def test_it_builds_a_public_access_point_with_client_isolation(self) -> None:
        assert ap.ap_commands(spec()) == [
            ["nmcli", "connection", "delete", "constellation-ap"],
            [
                "nmcli", "connection", "add", "type", "wifi", "ifname", "wlan0",
                "con-name", "constellation-ap", "autoconnect", "yes",
                "ssid", "Constellation Café",
                "802-11-wireless.mode", "ap", "802-11-wireless.band", "bg",
                "802-11-wireless.channel", "6", "802-11-wireless.ap-isolation", "yes",
                "ipv4.method", "shared", "ipv4.addresses", "10.42.0.1/24", "ipv6.method", "ignore",
                "wifi-sec.key-mgmt", "wpa-psk", "wifi-sec.proto", "rsn",
                "wifi-sec.pairwise", "ccmp", "wifi-sec.group", "ccmp",
                "wifi-sec.psk", "s3cret-passphrase",
            ],
            ["nmcli", "connection", "up", "constellation-ap"],
        ]  # fmt: skip

    def test_it_builds_a_router_without_isolation_on_its_subnet(self) -> None:
        add = ap.ap_commands(
            spec(mode="router", band="a", channel=None, address="192.168.50.1/24")
        )[1]
        assert add[add.index("802-11-wireless.ap-isolation") + 1] == "no"
        assert add[add.index("ipv4.method") + 1] == "shared"
        assert add[add.index("ipv4.addresses") + 1] == "192.168.50.1/24"
        assert add[add.index("802-11-wireless.band") + 1] == "a"
        assert "802-11-wireless.channel" not in add

    def test_a_public_network_may_be_open_and_a_router_may_not(self) -> None:
        add = ap.ap_commands(spec(password=""))[1]
        assert not any(arg.startswith("wifi-sec") for arg in add)
        with pytest.raises(ap.AccessPointError, match="Router mode needs a WPA2 passphrase"):
            spec(mode="router", password="")

    def test_an_ssid_with_a_quote_or_semicolon_is_one_argument(self) -> None:
        ssid = "x'; rm -rf / #"
        add = ap.ap_commands(spec(ssid=ssid))[1]
        assert add[add.index("ssid") + 1] == ssid

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"ssid": ""}, "The SSID must be 1 to 32 bytes in UTF-8 (it is 0)"),
            ({"ssid": "x" * 33}, "The SSID must be 1 to 32 bytes in UTF-8 (it is 33)"),
            ({"ssid": "é" * 17}, "The SSID must be 1 to 32 bytes in UTF-8 (it is 34)"),
            ({"ssid": "bad\nname"}, "The SSID may not hold control characters"),
            ({"password": "short"}, "A WPA2 passphrase is 8 to 63 characters (it has 5)"),
            ({"password": "p" * 64}, "A WPA2 passphrase is 8 to 63 characters (it has 64)"),
            ({"password": "passwörd-lang"}, "printable ASCII characters only"),
            ({"band": "ac"}, "The band must be bg (2.4 GHz) or a (5 GHz)"),
            ({"channel": 36}, "Channel 36 is not a 2.4 GHz channel"),
            ({"mode": "mesh"}, "The mode must be public or router"),
            ({"address": "10.42.0.1"}, "prefix from /16 to /30"),
            ({"address": "8.8.8.1/24"}, "must be a private IPv4 address"),
            ({"address": "10.42.0.0/24"}, "first or last address"),
            ({"address": "nonsense"}, "must be an IPv4 address with its prefix"),
            ({"interface": "wlan0; reboot"}, "network interface name"),
        ],
    )
    def test_it_refuses_bad_settings_saying_why(self, changes: dict, message: str) -> None:
        with pytest.raises(ap.AccessPointError) as refused:
            spec(**changes)
        assert message in str(refused.value)

    def test_printing_masks_the_passphrase(self) -> None:
        shown = ap.commands_shown(ap.ap_commands(spec()))
        assert "s3cret-passphrase" not in json.dumps(shown)
        assert shown[1][-1] == ap.MASK


class TestParsing:
    def test_it_parses_the_connection_status(self) -> None:
        status = ap.parse_status(NMCLI_STATUS)
        assert status.active
        assert status.ssid == "Constellation: guests"  # nmcli -t escapes the colon
        assert status.addresses == ["10.42.0.1/24"]

    def test_an_inactive_connection_has_no_general_state(self) -> None:
        status = ap.parse_status("802-11-wireless.ssid:Constellation\n")
        assert not status.active
        assert status.detail == "inactive"

    def test_it_parses_stations_and_gives_them_their_leases(self) -> None:
        clients = ap.merge_clients(ap.parse_station_dump(STATION_DUMP), ap.parse_leases(LEASES))
        assert [(c.mac, c.ip, c.hostname, c.signal_dbm, c.connected_s) for c in clients] == [
            ("3c:22:fb:11:22:33", "10.42.0.57", "phone-anna", -47, 315),
            ("aa:bb:cc:00:00:01", "10.42.0.80", "", -71, 12),
        ]

    def test_garbage_parses_to_nothing(self) -> None:
        assert ap.parse_station_dump("signal: loud\nStation\n\x00\xff") == []
        assert ap.parse_leases("one two\n") == {}


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """nmcli and iw stand-ins on PATH recording their argv (one JSON list a line) in a file.

    `connection delete` fails as nmcli does when there is no such connection; `connection
    show` prints the status fixture; `iw ... station dump` the station fixture.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.jsonl"
    script = f"""#!{sys.executable}
import json, os, sys
with open({str(record)!r}, "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["connection", "delete"]:
    sys.stderr.write("Error: unknown connection 'constellation-ap'.\\n")
    sys.exit(10)
if "show" in args:
    sys.stdout.write({NMCLI_STATUS!r})
if args[-2:] == ["station", "dump"]:
    sys.stdout.write({STATION_DUMP!r})
"""
    for name in ("nmcli", "iw"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield record


def recorded(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.fixture
def configured(db) -> AccessPoint:
    return AccessPoint.objects.create(**VALID)


@pytest.mark.django_db
class TestManagementCommand:
    def test_print_commands_shows_them_without_the_password(
        self, configured: AccessPoint, capsys: pytest.CaptureFixture
    ) -> None:
        call_command("access_point", "--print-commands")
        out = capsys.readouterr().out
        assert "s3cret-passphrase" not in out
        assert "'Constellation Café'" in out
        assert "wifi-sec.psk '********'" in out
        assert out.splitlines()[-1] == "nmcli connection up constellation-ap"

    @pytest.mark.skipif(os.geteuid() != 0, reason="--apply runs as root")
    def test_apply_runs_the_exact_commands(
        self, configured: AccessPoint, stand_ins: Path, capsys: pytest.CaptureFixture
    ) -> None:
        set_switch("ap-public-wifi", "on")
        call_command("access_point", "--apply")
        assert recorded(stand_ins) == [["nmcli", *argv[1:]] for argv in ap.ap_commands(spec())]
        out = capsys.readouterr().out
        assert "s3cret-passphrase" not in out
        assert "nmcli connection up constellation-ap  → 0" in out

    def test_apply_refuses_clearly_when_not_root(
        self, configured: AccessPoint, stand_ins: Path
    ) -> None:
        set_switch("ap-public-wifi", "on")
        dropped = os.geteuid() == 0
        if dropped:
            os.seteuid(65534)  # as nobody; the real uid stays root, so it can come back
        try:
            with pytest.raises(CommandError, match="needs root: run it with sudo"):
                call_command("access_point", "--apply")
        finally:
            if dropped:
                os.seteuid(0)
        assert recorded(stand_ins) == []

    @pytest.mark.skipif(os.geteuid() != 0, reason="--apply runs as root")
    def test_apply_refuses_when_the_feature_is_off(
        self, configured: AccessPoint, stand_ins: Path
    ) -> None:
        set_switch("ap-public-wifi", "off")
        with pytest.raises(CommandError, match="ap-public-wifi feature is off"):
            call_command("access_point", "--apply")
        assert recorded(stand_ins) == []

    def test_an_invalid_configuration_is_refused_before_any_command(
        self, configured: AccessPoint, stand_ins: Path
    ) -> None:
        AccessPoint.objects.filter(pk=configured.pk).update(password="short")
        with pytest.raises(CommandError, match="8 to 63 characters"):
            call_command("access_point", "--print-commands")
        assert recorded(stand_ins) == []

    def test_status_json_shows_the_clients(
        self,
        configured: AccessPoint,
        stand_ins: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        leases = tmp_path / "dnsmasq-wlan0.leases"
        leases.write_text(LEASES)
        monkeypatch.setattr(ap, "LEASES", str(tmp_path / "dnsmasq-{interface}.leases"))
        call_command("access_point", "--status", "--json")
        data = json.loads(capsys.readouterr().out)
        assert data["active"] is True
        assert data["ssid"] == "Constellation: guests"
        assert [c["hostname"] for c in data["clients"]] == ["phone-anna", ""]
        assert [
            "nmcli",
            "-t",
            "-f",
            ap.STATUS_FIELDS,
            "connection",
            "show",
            "constellation-ap",
        ] in (recorded(stand_ins))
        assert ["iw", "dev", "wlan0", "station", "dump"] in recorded(stand_ins)


@pytest.mark.django_db
class TestAdmin:
    def test_the_password_is_write_only(self, admin_client, stand_ins: Path) -> None:
        url = "/admin/hardware/accesspoint/add/"
        form = {**VALID, "new_password": "first-passphrase", "channel": "6"}
        form.pop("password")
        response = admin_client.post(url, form)
        assert response.status_code == 302, response.content.decode()[:3000]
        saved = AccessPoint.objects.get()
        assert saved.password == "first-passphrase"

        page = admin_client.get(f"/admin/hardware/accesspoint/{saved.pk}/change/")
        text = page.content.decode()
        assert page.status_code == 200
        assert "first-passphrase" not in text
        assert "Constellation: guests" in text  # the status, from nmcli
        assert "3c:22:fb:11:22:33" in text  # a connected client, from iw
        assert [argv for argv in recorded(stand_ins) if "show" in argv] == [
            ["nmcli", "-t", "-f", ap.STATUS_FIELDS, "connection", "show", "constellation-ap"]
        ]  # once per page

        # Saving without a new password keeps the old one.
        form["new_password"] = ""
        form["ssid"] = "Renamed"
        response = admin_client.post(f"/admin/hardware/accesspoint/{saved.pk}/change/", form)
        assert response.status_code == 302
        saved.refresh_from_db()
        assert (saved.ssid, saved.password) == ("Renamed", "first-passphrase")

    def test_a_bad_password_is_refused_with_the_reason(self, admin_client) -> None:
        form = {**VALID, "new_password": "short", "channel": "6", "mode": "router"}
        form.pop("password")
        response = admin_client.post("/admin/hardware/accesspoint/add/", form)
        assert response.status_code == 200
        assert "8 to 63 characters" in response.content.decode()
        assert not AccessPoint.objects.exists()

    def test_a_staff_user_without_permission_is_refused(self, client, django_user_model) -> None:
        user = django_user_model.objects.create_user(
            "staff", password="pw-123456789", is_staff=True
        )
        client.force_login(user)
        assert client.get("/admin/hardware/accesspoint/add/").status_code == 403
