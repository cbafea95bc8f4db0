"""start.sh and stop.sh, run for real on a copy of the project with a fresh data folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
ADMIN_USERNAME = "ops"
ADMIN_PASSWORD = "start-stop-test-password-42"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="start.sh/stop.sh target Linux"),
]


def copy_project(dest: Path) -> None:
    """Copy the project's files (tracked, and new ones git does not ignore) into dest."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = REPO / os.fsdecode(name)
        if not source.is_file():  # deleted in the work tree, or a submodule
            continue
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_running(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[str]:
    """Return "pid: cmdline" of every live process whose command line contains text."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and is_running(int(entry.name)):
            found.append(f"{entry.name}: {cmdline}")
    return found


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll condition until it holds or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[dict]:
    """A copy of the project sharing this test run's venv, and the environment to start it."""
    assert sys.prefix != sys.base_prefix, "run the tests from the project's venv"
    root = tmp_path / "project"
    copy_project(root)
    # The copy reuses this venv: start.sh finds its install stamp and installs nothing.
    (root / ".venv").symlink_to(Path(sys.prefix))
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    env.pop("SECRET_KEY", None)
    yield {"root": root, "data_dir": data_dir, "env": env}
    # Whatever the test's outcome, nothing of the copy may outlive it.
    subprocess.run(
        [str(root / "stop.sh")], cwd=root, env=env, capture_output=True, timeout=60, check=False
    )
    for pid_file in (data_dir / "run").glob("*.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        if pid and is_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def run_script(
    project: dict, *args: str, timeout: float = 240, nofile: int | None = None
) -> subprocess.CompletedProcess:
    """Run a script of the copy; `nofile`: its soft open-file limit, as `ulimit -Sn` would."""

    def limit_files() -> None:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    return subprocess.run(
        [str(project["root"] / args[0]), *args[1:]],
        cwd=project["root"],
        env=project["env"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit_files if nofile is not None else None,
    )


def open_files_limit(pid: int) -> int:
    """The soft limit of open files of a process, from /proc/PID/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError(f"no open-file limit for {pid}")


def log_in(base_url: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False  # straight to loopback, never through a proxy
    login_url = f"{base_url}/admin/login/"
    session.get(login_url, timeout=10).raise_for_status()
    return session.post(
        login_url,
        data={
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login_url},
        timeout=10,
    )


def test_it_starts_serves_and_stops_everything(project: dict) -> None:
    # A Control node: its Celery Queue feature is on by default (a Terminal's is not). The
    # role is set on the node's record too: a shared database (PostgreSQL run) may hold one.
    project["env"]["NODE_ROLE"] = "control"
    assert manage(project, "migrate", "--noinput").returncode == 0
    node = manage(project, "node", "--role", "control", "--feature", "celery-queue=auto")
    assert node.returncode == 0, node.stderr
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    run_dir = project["data_dir"] / "run"
    no_proxy = {"http": "", "https": ""}

    started = run_script(project, "start.sh", "--port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"http://localhost:{port}/admin/" in started.stdout
    server_pid = int((run_dir / "uvicorn.pid").read_text())
    celery_pid = int((run_dir / "celery.pid").read_text())

    health = requests.get(f"{base_url}/healthz", timeout=10, proxies=no_proxy)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    login_page = requests.get(f"{base_url}/admin/login/", timeout=10, proxies=no_proxy)
    assert login_page.status_code == 200
    assert 'name="username"' in login_page.text

    logged_in = log_in(base_url)
    assert logged_in.status_code == 200
    assert logged_in.url.endswith("/admin/"), logged_in.url
    assert 'id="logout-form"' in logged_in.text

    assert is_running(server_pid)
    assert is_running(celery_pid)
    celery_log = project["data_dir"] / "logs" / "celery.log"
    assert wait_for(lambda: "beat: Starting" in celery_log.read_text(), timeout=30), (
        celery_log.read_text()
    )

    again = run_script(project, "start.sh", "--port", str(free_port()))
    assert again.returncode != 0
    assert "already running" in again.stderr
    assert "installing" not in again.stdout  # the stamp in .venv says it is up to date
    assert is_running(server_pid)

    stopped = run_script(project, "stop.sh", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped uvicorn (pid {server_pid})" in stopped.stdout
    assert f"stopped celery (pid {celery_pid})" in stopped.stdout
    assert not is_running(server_pid)
    assert not is_running(celery_pid)
    assert processes_mentioning(str(project["root"])) == []
    assert list(run_dir.glob("*.pid")) == []

    nothing = run_script(project, "stop.sh", timeout=60)
    assert nothing.returncode == 0
    assert "nothing running" in nothing.stdout


def test_it_fails_loudly_and_leaves_nothing_running_when_the_server_cannot_start(
    project: dict,
) -> None:
    (project["root"] / "config" / "asgi.py").write_text(
        'raise RuntimeError("the ASGI application is broken on purpose")\n'
    )

    started = run_script(project, "start.sh", "--port", str(free_port()))

    assert started.returncode != 0
    assert "uvicorn exited before answering /healthz" in started.stderr
    assert "the ASGI application is broken on purpose" in started.stderr  # the log's tail
    assert list((project["data_dir"] / "run").glob("*.pid")) == []
    assert processes_mentioning(str(project["root"])) == []


def test_it_serves_with_daphne_when_asked(project: dict) -> None:
    port = free_port()
    run_dir = project["data_dir"] / "run"
    started = run_script(
        project, "start.sh", "--port", str(port), "--server", "daphne", "--no-celery"
    )
    assert started.returncode == 0, started.stdout + started.stderr
    daphne_pid = int((run_dir / "daphne.pid").read_text())
    health = requests.get(
        f"http://127.0.0.1:{port}/healthz", timeout=10, proxies={"http": "", "https": ""}
    )
    assert health.status_code == 200, health.text
    assert is_running(daphne_pid)
    stopped = run_script(project, "stop.sh", timeout=60)
    assert f"stopped daphne (pid {daphne_pid})" in stopped.stdout
    assert not is_running(daphne_pid)
    assert processes_mentioning(str(project["root"])) == []


def test_it_raises_the_open_file_limit_of_the_server(project: dict) -> None:
    """It is raised before either server is chosen: the default one (uvicorn) shows it."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"the hard open-file limit is {hard}: there is nothing to raise it to")
    expected = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    port = free_port()
    started = run_script(project, "start.sh", "--port", str(port), "--no-celery", nofile=1024)
    assert started.returncode == 0, started.stdout + started.stderr
    server_pid = int((project["data_dir"] / "run" / "uvicorn.pid").read_text())
    assert open_files_limit(server_pid) == expected
    assert f"open-file limit: {expected} (was 1024" in started.stdout
    log = (project["data_dir"] / "logs" / "uvicorn.log").read_text()
    assert f"open-file limit: {expected}" in log


def test_it_refuses_an_unknown_server(project: dict) -> None:
    started = run_script(project, "start.sh", "--server", "gunicorn")
    assert started.returncode != 0
    assert "--server must be daphne or uvicorn" in started.stderr


def test_it_serves_tls_with_a_certificate_from_the_csms_ca(project: dict) -> None:
    data_dir = project["data_dir"]
    python = str(project["root"] / ".venv" / "bin" / "python")
    made = subprocess.run(
        [python, "manage.py", "tls_server_certificate", "--host", "127.0.0.1"],
        cwd=project["root"],
        env=project["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    cert, key = data_dir / "tls" / "server.pem", data_dir / "tls" / "server.key"
    port = free_port()

    half = run_script(project, "start.sh", "--port", str(port), "--tls-cert", str(cert))
    assert half.returncode != 0
    assert "--tls-cert and --tls-key go together" in half.stderr
    with_daphne = run_script(
        project, "start.sh", "--port", str(port), "--server", "daphne", "--no-celery",
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    assert with_daphne.returncode != 0
    assert "daphne cannot serve TLS" in with_daphne.stderr
    assert processes_mentioning(str(project["root"])) == []

    started = run_script(
        project, "start.sh", "--port", str(port), "--no-celery",
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"https://localhost:{port}/admin/" in started.stdout
    # The server's certificate verifies against the CSMS CA for the name dialled.
    health = requests.get(
        f"https://127.0.0.1:{port}/healthz",
        timeout=10,
        verify=str(data_dir / "ca" / "ca.pem"),
        proxies={"http": "", "https": ""},
    )
    assert health.status_code == 200, health.text
    stopped = run_script(project, "stop.sh", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert processes_mentioning(str(project["root"])) == []


def manage(project: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(project["root"] / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=project["root"],
        env=project["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_celery_follows_the_celery_queue_feature(project: dict) -> None:
    """A Terminal starts no Celery and its server runs the periodic jobs (an overdue
    reservation expires); with the feature switched on, start.sh starts Celery and stop.sh
    stops it."""
    run_dir = project["data_dir"] / "run"
    assert manage(project, "migrate", "--noinput").returncode == 0
    # A Terminal with the feature on auto, whatever an earlier test left in a shared database
    # (the PostgreSQL run keeps this node's record between tests).
    node = manage(project, "node", "--role", "terminal", "--feature", "celery-queue=auto")
    assert node.returncode == 0, node.stderr
    made = manage(
        project,
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from apps.chargers.services import station_get_or_register\n"
        "from apps.core.timeutil import utcnow\n"
        "from apps.reservations.models import Reservation\n"
        "Reservation.objects.create(station=station_get_or_register(charger_id='CP-Q'),"
        " reservation_id=4242, id_tag='T', status='accepted',"
        " expires_at=utcnow() - timedelta(minutes=1))\n",
    )
    assert made.returncode == 0, made.stderr

    started = run_script(project, "start.sh", "--port", str(free_port()))
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Celery Queue off: the server runs the periodic jobs" in started.stdout
    assert not (run_dir / "celery.pid").exists()
    assert [p for p in processes_mentioning(str(project["root"])) if "-m celery" in p] == []
    server_log = project["data_dir"] / "logs" / "uvicorn.log"

    def expired() -> bool:
        status = manage(
            project,
            "shell",
            "-c",
            "from apps.reservations.models import Reservation\n"
            "print(Reservation.objects.get(reservation_id=4242).status)",
        )
        return status.stdout.strip().endswith("expired")

    assert wait_for(expired, timeout=60), server_log.read_text()
    assert "the periodic jobs run in this server process" in server_log.read_text()
    stopped = run_script(project, "stop.sh", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "celery" not in stopped.stdout

    switched = manage(project, "node", "--feature", "celery-queue=on")
    assert switched.returncode == 0, switched.stderr
    started = run_script(project, "start.sh", "--port", str(free_port()))
    assert started.returncode == 0, started.stdout + started.stderr
    celery_pid = int((run_dir / "celery.pid").read_text())
    assert is_running(celery_pid)
    assert "Celery Queue off" not in started.stdout
    stopped = run_script(project, "stop.sh", timeout=60)
    assert f"stopped celery (pid {celery_pid})" in stopped.stdout
    assert not is_running(celery_pid)
    assert processes_mentioning(str(project["root"])) == []

    # --celery forces it on, --no-celery off, whatever the feature says.
    forced = run_script(project, "start.sh", "--port", str(free_port()), "--no-celery")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert not (run_dir / "celery.pid").exists()
    run_script(project, "stop.sh", timeout=60)
    assert manage(project, "node", "--feature", "celery-queue=off").returncode == 0
    forced = run_script(project, "start.sh", "--port", str(free_port()), "--celery")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert is_running(int((run_dir / "celery.pid").read_text()))
