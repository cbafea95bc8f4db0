"""install.sh, configure.sh and uninstall.sh for real, in a copy of the project.

The scripts run as they would on a node (as root here), with the system's paths pointed into
the test's folder (SYSTEMD_DIR, NGINX_DIR) and stand-ins for `systemctl` and `nginx` on PATH
that record their arguments. The unit files they write are checked with the real
`systemd-analyze verify`, the NGINX site with the real `nginx -t`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from apps.nodes.features import CATALOGUE
from apps.nodes.nginx import nginx_check
from tests.conftest import free_port, need_service
from tests.core.test_start_stop import copy_project
from tests.faults.processes import fresh_postgres_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="install.sh targets Linux"),
]

RECORDER = """#!/bin/bash
# A stand-in for {name}: records its arguments, one call a line, and succeeds.
echo "{name} $*" >> "$STAND_IN_RECORD"
"""


@dataclass
class Site:
    """A copy of the project, its data folder, and the system folders install.sh writes."""

    root: Path
    data_dir: Path
    systemd: Path
    nginx: Path
    record: Path
    env: dict[str, str]

    def run(self, script: str, *args: str, env: dict[str, str] | None = None):
        return subprocess.run(
            [str(self.root / script), *args],
            cwd=self.root,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def ok(self, script: str, *args: str) -> str:
        done = self.run(script, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def calls(self) -> list[str]:
        """The recorded calls since the last time, then forget them."""
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        self.record.write_text("")
        # nginx_site's own check runs `nginx -t` on a temporary copy: not a system call.
        return [line for line in lines if not line.startswith("nginx -t -q -p ")]

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.root / ".venv/bin/python"), "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def manifest(self) -> list[str]:
        return (self.data_dir / "lifecycle" / "installed").read_text().splitlines()


def stand_ins(folder: Path) -> Path:
    folder.mkdir()
    for name in ("systemctl", "nginx"):
        path = folder / name
        path.write_text(RECORDER.format(name=name))
        path.chmod(0o755)
    return folder


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    assert sys.prefix != sys.base_prefix, "run the tests from the project's venv"
    root = tmp_path / "node"
    copy_project(root)
    (root / ".venv").symlink_to(Path(sys.prefix))
    # Debian's nginx layout, with its stock site enabled.
    nginx = tmp_path / "etc-nginx"
    (nginx / "sites-available").mkdir(parents=True)
    (nginx / "sites-enabled").mkdir()
    (nginx / "sites-available" / "default").write_text("server { listen 80 default_server; }\n")
    (nginx / "sites-enabled" / "default").symlink_to(nginx / "sites-available" / "default")
    systemd = tmp_path / "etc-systemd-system"
    systemd.mkdir()
    bin_dir = stand_ins(tmp_path / "bin")
    record = tmp_path / "calls"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STAND_IN_RECORD": str(record),
        "SYSTEMD_DIR": str(systemd),
        "NGINX_DIR": str(nginx),
        "POLKIT_DIR": str(tmp_path / "polkit-rules"),
        "DATA_DIR": str(tmp_path / "data"),
        "INSTALL_PI": "0",
    }
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "UPDATE_CHANNEL",
        "NODE_ROLE",
        "DJANGO_SETTINGS_MODULE",
        "ADMIN_USERNAME",
        "ADMIN_PASSWORD",
        "CELERY_QUEUE",
    ):
        env.pop(name, None)
    yield Site(root, tmp_path / "data", systemd, nginx, record, env)


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file and link under the folders: its content's hash, or where the link points."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if ".git" in path.parts or "__pycache__" in path.parts:
                continue
            if path.is_symlink():
                found[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[str(path)] = "dir"
    return found


def healthz(port: int) -> int:
    answer = requests.get(
        f"http://127.0.0.1:{port}/healthz", timeout=10, proxies={"http": "", "https": ""}
    )
    return answer.status_code


def env_lines(site: Site) -> list[str]:
    return [line for line in (site.root / ".env").read_text().splitlines() if "=" in line]


def verify_units(site: Site, *instances: str) -> None:
    """The real `systemd-analyze verify` on the unit files (templates through an instance)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name in instances:
            template = re.sub(r"@[^.]+\.", "@.", name)
            path = Path(folder) / name
            path.symlink_to(site.systemd / template)
            paths.append(str(path))
        done = subprocess.run(
            [analyze, "verify", *paths], capture_output=True, text=True, check=False
        )
    assert done.returncode == 0, done.stdout + done.stderr


def node_role(site: Site) -> str:
    return json.loads(site.manage("node", "--json"))["role"]


def test_its_help_lists_every_option_and_the_catalogues_role_defaults(site: Site) -> None:
    shown = site.ok("install.sh", "--help")
    for option in (
        "--terminal",
        "--control",
        "--satellite",
        "--watchtower",
        "--port N",
        "--workers N",
        "--fixed",
        "--stable",
        "--latest",
        "--unstable",
        "--feature SLUG=MODE",
        "--http-port N",
        "--server-name NAME",
        "--admin USER",
        "--services",
        "--no-services",
        "--with-services",
        "--user NAME",
        "--data-dir DIR",
    ):
        assert option in shown, option
    # The role defaults it prints are the catalogue's.
    for role in ("terminal", "control", "satellite", "watchtower"):
        expected = sorted(slug for slug, f in CATALOGUE.items() if role in f.default_roles)
        [line] = [line for line in shown.splitlines() if line.startswith(f"  {role} ")]
        assert sorted(line.split()[1:]) == expected, line
    configure = site.ok("configure.sh", "--help")
    assert "--satellite" in configure and "--port N" in configure and "--user" not in configure
    assert "--purge" in site.ok("uninstall.sh", "--help")
    wrong = site.run("install.sh", "--port", "99999")
    assert wrong.returncode == 1 and "a port is a number from 1 to 65535" in wrong.stderr
    wrong = site.run("install.sh", "--feature", "lcd-screen=maybe")
    assert wrong.returncode == 1 and "--feature wants SLUG=on|off|auto" in wrong.stderr
    # Several workers need PostgreSQL and Redis: on SQLite (no DATABASE_URL) it refuses.
    wrong = site.run("install.sh", "--watchtower", "--workers", "2")
    assert wrong.returncode == 1
    assert "--workers 2 needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)" in wrong.stderr
    assert "PostgreSQL: not configured" in wrong.stdout
    assert not (site.root / ".env").exists()


def test_a_terminal_is_prepared_without_services(site: Site) -> None:
    secret = "correct-horse-battery-9"
    done = site.run(
        "install.sh", "--terminal", "--port", "8123", "--admin", "boss",
        env={**site.env, "ADMIN_PASSWORD": secret},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # The admin user, made with the password that is never shown nor written down.
    assert "created admin user 'boss'" in out
    assert secret not in out + done.stderr
    assert not any(secret in p.read_text(errors="replace") for p in site.root.glob(".env*"))
    with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
        assert db.execute(
            "SELECT is_superuser FROM auth_user WHERE username = 'boss'"
        ).fetchone() == (1,)
    # Without ADMIN_PASSWORD and no terminal to ask on: a clear refusal.
    asked = site.run("install.sh", "--admin", "other")
    assert asked.returncode == 1 and "--admin other: set ADMIN_PASSWORD" in asked.stderr

    assert "Start it with ./start.sh --port 8123" in out
    assert site.calls() == []  # no systemctl, no nginx
    assert list(site.systemd.iterdir()) == []
    assert not (site.data_dir / "lifecycle" / "units").exists()
    assert env_lines(site) == [f"DATA_DIR={site.data_dir}", "NODE_ROLE=terminal"]
    assert (site.data_dir / "lifecycle" / "health-url").read_text() == (
        "http://127.0.0.1:8123/healthz\n"
    )
    assert (site.data_dir / "lifecycle" / "requirements").read_text() == "requirements.txt\n"
    assert (site.data_dir / "static" / "admin").is_dir()  # collectstatic ran
    assert node_role(site) == "terminal"
    assert not any(line.startswith(("unit ", "nginx-")) for line in site.manifest())


def test_a_control_node_gets_its_units_and_site_and_a_second_run_changes_nothing(
    site: Site,
) -> None:
    out = site.ok("install.sh", "--control", "--port", "8100", "--stable")

    units = ["constellation-web@8100.service", "constellation-celery.service",
             "constellation-beat.service"]  # fmt: skip
    assert site.calls() == [
        "systemctl daemon-reload",
        "systemctl enable --now " + " ".join(units),
        "nginx -t",
        "systemctl reload-or-restart nginx.service",
    ], out
    assert sorted(p.name for p in site.systemd.iterdir()) == [
        "constellation-beat.service",
        "constellation-celery.service",
        "constellation-web@.service",
    ]
    web = (site.systemd / "constellation-web@.service").read_text()
    assert f"ExecStart={site.root}/scripts/service-start.sh web %i 127.0.0.1" in web
    assert "Environment=CELERY_QUEUE=on" in web and "User=root" in web
    assert "KillMode=process" in (site.systemd / "constellation-celery.service").read_text()
    verify_units(site, *units)
    # upgrade.sh's files: the units, the server's first, and where /healthz answers.
    assert (site.data_dir / "lifecycle" / "units").read_text().split() == units
    assert (site.data_dir / "lifecycle" / "health-url").read_text().strip() == (
        "http://127.0.0.1:8100/healthz"
    )
    # The NGINX site, enabled, with the stock default site out of its way; the real nginx -t.
    conf = site.nginx / "sites-available" / "constellation.conf"
    assert os.readlink(site.nginx / "sites-enabled" / "constellation.conf") == str(conf)
    assert not (site.nginx / "sites-enabled" / "default").exists()
    assert "server 127.0.0.1:8100;" in conf.read_text()
    if shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        valid, output = nginx_check(conf.read_text())
        assert valid, output
    elif os.environ.get("CI") == "true":  # as the NGINX site tests: CI has nginx
        pytest.fail("nginx is not installed: the site cannot be checked with nginx -t")
    assert env_lines(site) == [
        f"DATA_DIR={site.data_dir}",
        "NODE_ROLE=control",
        "OCPP_TRUSTED_PROXIES=127.0.0.1",
    ]
    assert oct((site.root / ".env").stat().st_mode & 0o777) == "0o600"
    assert node_role(site) == "control"
    assert site.manage("lifecycle", "channel").split()[-1] == "stable"
    with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
        assert db.execute(
            "SELECT COUNT(*) FROM django_celery_beat_periodictask WHERE name LIKE 'lifecycle%'"
        ).fetchone() == (1,)
    manifest = site.manifest()
    for unit in units:
        assert f"unit {unit}" in manifest
    assert (
        f"nginx-disabled {site.nginx}/sites-enabled/default "
        + str(site.nginx / "sites-available" / "default")
        in manifest
    )

    before = snapshot(site.root, site.systemd, site.nginx, site.data_dir / "lifecycle")
    again = site.ok("install.sh", "--control", "--port", "8100", "--stable")

    assert snapshot(site.root, site.systemd, site.nginx, site.data_dir / "lifecycle") == before
    assert site.calls() == []  # no enable, no restart, no reload
    assert "units unchanged: " + " ".join(units) in again
    assert "wrote" not in again and "nginx site " + str(conf) + ": unchanged" in again


def unit_command(site: Site, unit: str, instance: str = "") -> tuple[list[str], dict[str, str]]:
    """The unit file's ExecStart (with %i) and its Environment= lines, as systemd runs them."""
    text = (site.systemd / unit).read_text()
    [exec_start] = re.findall(r"(?m)^ExecStart=(.*)$", text)
    env = {**site.env}
    for assignment in re.findall(r"(?m)^Environment=(.*)$", text):
        name, _, value = assignment.partition("=")
        env[name] = value
    return exec_start.replace("%i", instance).split(), env


def wait_until(check, what: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert process.poll() is None, f"{what}: the process exited ({process.returncode})"
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def test_the_units_commands_serve_the_node(site: Site, tmp_path: Path) -> None:
    site.ok("install.sh", "--control", "--port", "8100")
    before = snapshot(site.root)
    port = free_port()
    command, env = unit_command(site, "constellation-web@.service", str(port))
    log = tmp_path / "web.log"
    with log.open("w") as out:
        web = subprocess.Popen(command, cwd=site.root, env=env, stdout=out, stderr=out)
    try:

        def answers() -> bool:
            try:
                return healthz(port) == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, "the web unit's /healthz", web)
        assert web.poll() is None, "another process answered on the port: " + log.read_text()
    finally:
        web.terminate()
        # Ended by SIGTERM after its clean-up: systemd counts that as a clean stop.
        assert web.wait(timeout=30) in (0, -15), log.read_text()
    # The beat, from the database's schedules, with no pid file in the project folder.
    command, env = unit_command(site, "constellation-beat.service")
    log = tmp_path / "beat.log"
    with log.open("w") as out:
        beat = subprocess.Popen(command, cwd=site.root, env=env, stdout=out, stderr=out)
    try:
        # Running: its scheduler has read the database's schedules. (Stopped during that
        # set-up, beat once took over 30 s to end under load; a running one ends at once.)
        wait_until(
            lambda: "DatabaseScheduler: Schedule changed" in log.read_text(), "celery beat", beat
        )
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert snapshot(site.root) == before


def test_configure_changes_role_port_and_features_and_restarts_the_units(site: Site) -> None:
    site.ok("install.sh", "--control", "--port", "8100")
    site.calls()

    out = site.ok("configure.sh", "--satellite", "--port", "8200", "--feature", "rfid-scanner=off")

    assert site.calls() == [
        "systemctl disable --now constellation-web@8100.service",
        "systemctl enable --now constellation-web@8200.service",
        "systemctl try-restart constellation-celery.service constellation-beat.service",
        "nginx -t",
        "systemctl reload-or-restart nginx.service",
    ], out
    assert ".env: NODE_ROLE: control → satellite" in out
    assert "NODE_ROLE=satellite" in env_lines(site)
    assert node_role(site) == "satellite"
    features = {f["slug"]: f for f in json.loads(site.manage("node", "--json"))["features"]}
    assert features["rfid-scanner"]["mode"] == "off"
    assert (site.data_dir / "lifecycle" / "units").read_text().split()[0] == (
        "constellation-web@8200.service"
    )
    assert "8200" in (site.data_dir / "lifecycle" / "health-url").read_text()
    site_conf = (site.nginx / "sites-available" / "constellation.conf").read_text()
    assert "server 127.0.0.1:8200;" in site_conf and "8100" not in site_conf
    # What was not asked stays: the port, role and features, from install.conf.
    site.ok("configure.sh", "--latest")
    assert site.calls() == []
    assert site.manage("lifecycle", "channel").split()[-1] == "latest"

    # Uninstall without --purge: the services go, the database stays.
    site.ok("uninstall.sh")
    assert site.calls() == [
        "systemctl disable --now constellation-web@8200.service "
        "constellation-celery.service constellation-beat.service",
        "nginx -t",
        "systemctl reload-or-restart nginx.service",
        "systemctl daemon-reload",
    ]
    assert (site.data_dir / "db.sqlite3").exists()
    assert not (site.data_dir / "lifecycle").exists()
    assert list(site.systemd.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_uninstall_leaves_nothing_that_install_created(
    site: Site, workers: int, tmp_path: Path
) -> None:
    # An operator's .env: its values are kept, install's lines go again with uninstall.
    mine = "# mine\nSECRET_KEY=keep-me\nLOG_LEVEL=DEBUG\n"
    with contextlib.ExitStack() as stack:
        if workers > 1:
            # Several workers share PostgreSQL and Redis (the suite's PostgreSQL run).
            url, _admin = stack.enter_context(
                fresh_postgres_database("constellation_install", tmp_path / "pg-data")
            )
            redis = os.environ.get("REDIS_URL", "")
            need_service("Redis", bool(redis), "REDIS_URL is not set")
            mine += f"DATABASE_URL={url}\nREDIS_URL={redis}\n"
        (site.root / ".env").write_text(mine)
        before = snapshot(site.root, site.systemd, site.nginx)
        uninstalled_after_install(site, workers, mine, before)


def uninstalled_after_install(site: Site, workers: int, mine: str, before: object) -> None:
    out = site.ok("install.sh", "--watchtower", "--workers", str(workers), "--port", "8300")

    web = " ".join(f"constellation-web@{8300 + i}.service" for i in range(workers))
    assert web in out
    verify_units(site, f"constellation-web@{8299 + workers}.service", "constellation-beat.service")
    conf = (site.nginx / "sites-available" / "constellation.conf").read_text()
    assert "server 127.0.0.1:8300;" in conf
    if workers > 1:
        assert "least_conn;" in conf and "server 127.0.0.1:8301;" in conf
    assert (site.root / ".env").read_text().startswith(mine)
    assert {"env-key DATA_DIR", "env-key NODE_ROLE", "env-key OCPP_TRUSTED_PROXIES"} <= set(
        site.manifest()
    )
    site.calls()

    removed = site.ok("uninstall.sh", "--purge")

    assert snapshot(site.root, site.systemd, site.nginx) == before, removed
    assert not site.data_dir.exists()
    assert "systemctl daemon-reload" in site.calls()
    again = site.run("uninstall.sh")
    assert again.returncode == 1 and "nothing installed here" in again.stderr


PYTHON_39 = """#!/bin/bash
# A stand-in for a Python 3.9 interpreter: answers the version question as 3.9 would.
case $1 in
--version | -V) echo "Python 3.9.18" ;;
-c) echo "3.9.18" ;;
*) exit 1 ;;
esac
"""


def test_it_refuses_without_python_3_11_and_changes_nothing(site: Site, tmp_path: Path) -> None:
    (site.root / ".venv").unlink()  # a fresh checkout: the venv must be made
    python = tmp_path / "python3.9"
    python.write_text(PYTHON_39)
    python.chmod(0o755)
    before = snapshot(site.root)

    refused = site.run("install.sh", "--terminal", env={**site.env, "PYTHON": str(python)})

    assert refused.returncode == 1
    assert f"Python 3.11 is required; {python} is Python 3.9.18" in refused.stderr
    assert snapshot(site.root) == before
    assert not site.data_dir.exists()


def test_it_refuses_to_install_services_when_not_root(site: Site) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run as nobody")
    # A copy nobody may read and run (the test's own folder is root's only).
    folder = Path(tempfile.mkdtemp(prefix="install-nobody-"))
    try:
        folder.chmod(0o755)
        shutil.copytree(site.root, folder / "node", symlinks=True)
        data = folder / "data"
        env = {**site.env, "DATA_DIR": str(data), "HOME": str(folder)}
        refused = subprocess.run(
            [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             str(folder / "node" / "install.sh"), "--control"],
            cwd=folder / "node", env=env, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "are installed by root: run sudo ./install.sh --control" in refused.stderr
        assert "--no-services to prepare the node only" in refused.stderr
        assert not data.exists() and not (folder / "node" / ".env").exists()
        assert site.calls() == []
    finally:
        shutil.rmtree(folder)


def test_configure_refuses_a_node_that_is_not_installed(site: Site) -> None:
    refused = site.run("configure.sh", "--satellite")
    assert refused.returncode == 1
    assert "this node is not installed" in refused.stderr and "run ./install.sh first" in (
        refused.stderr
    )


def test_configure_restarts_a_node_run_with_start_sh_on_its_new_port(site: Site) -> None:
    old_port, new_port = free_port(), free_port()
    site.ok("install.sh", "--terminal", "--port", str(old_port))
    try:
        site.ok("start.sh", "--port", str(old_port), "--bind", "127.0.0.1", "--no-celery")
        assert healthz(old_port) == 200

        out = site.ok("configure.sh", "--port", str(new_port))

        assert f"./start.sh --port {new_port} --bind 127.0.0.1 --no-celery" in out
        assert healthz(new_port) == 200
        with pytest.raises(requests.ConnectionError):
            healthz(old_port)
        assert site.calls() == []
    finally:
        site.run("stop.sh")
    assert "nothing running" in site.ok("stop.sh")


def test_the_polkit_rule_lets_only_the_service_user_manage_only_the_nodes_units(
    site: Site,
) -> None:
    # The rule install.sh writes for a service user other than root (the whole install as
    # another user cannot run here: this machine's interpreter is in root's home).
    shown = subprocess.run(
        ["bash", "-c", ". scripts/_install.sh && SERVICE_USER=pi _polkit_rule"],
        cwd=site.root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert 'action.id == "org.freedesktop.systemd1.manage-units"' in shown
    assert 'subject.user == "pi"' in shown
    assert 'indexOf("constellation-") == 0' in shown
    assert "polkit.Result.YES" in shown and shown.count("return") == 1
    # And it does what it says, run by a JavaScript engine as polkit runs it.
    node = shutil.which("node")
    if node is None:
        return
    harness = """
const rules = [];
const polkit = { Result: { YES: "yes" }, addRule: (f) => rules.push(f) };
eval(require("fs").readFileSync(0, "utf8"));
const ask = (id, unit, user) =>
    rules[0]({ id, lookup: (k) => (k === "unit" ? unit : undefined) }, { user }) || "no";
console.log(JSON.stringify([
    ask("org.freedesktop.systemd1.manage-units", "constellation-web@8000.service", "pi"),
    ask("org.freedesktop.systemd1.manage-units", "constellation-celery.service", "pi"),
    ask("org.freedesktop.systemd1.manage-units", "nginx.service", "pi"),
    ask("org.freedesktop.systemd1.manage-units", "constellation-web@8000.service", "eve"),
    ask("org.freedesktop.systemd1.manage-unit-files", "constellation-web@8000.service", "pi"),
    ask("org.freedesktop.systemd1.manage-units", undefined, "pi"),
]));
"""
    answers = subprocess.run(
        [node, "-e", harness], input=shown, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(answers) == ["yes", "yes", "no", "no", "no", "no"]


def test_a_watchtower_runs_a_worker_per_core_by_default(site: Site) -> None:
    # On SQLite (no DATABASE_URL) more than one worker is refused; the message says how many
    # the default gave: one per core.
    cores = os.cpu_count() or 1
    result = site.run("install.sh", "--watchtower")
    if cores > 1:
        assert result.returncode == 1
        assert f"--workers {min(cores, 64)} needs PostgreSQL" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
    refused = site.run("install.sh", "--workers", "many")
    assert refused.returncode == 1 and "a number from 1 to 64 or auto" in refused.stderr
