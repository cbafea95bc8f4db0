"""The NGINX site: rendered and validated, checked by the real `nginx -t`, and served by a real
nginx in front of the ASGI server (a charger boots through it over ws and wss)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websockets
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from ocpp.v16 import call

from apps.nodes.nginx import (
    NginxSiteError,
    nginx_check,
    nginx_site,
    nginx_site_render,
    standalone_conf,
)
from tests import pki
from tests.conftest import free_port, need_service
from tests.ocpp.charger import V16Charger, connect_v16

NO_PROXY = {"http": "", "https": ""}


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (self-signed) and its key, as PEM files."""
    key, cert = pki.self_signed("127.0.0.1", ip="127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def nginx() -> str:
    """The nginx program (scripts/test-packages.sh installs it; in CI it must be there)."""
    program = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    need_service("nginx", program is not None, "install nginx-light (scripts/test-packages.sh)")
    return program


class TestRendering:
    def test_it_proxies_websockets_with_upgrade_headers_and_long_timeouts(self) -> None:
        text = nginx_site_render(nginx_site(upstreams=["127.0.0.1:8001"], static_root="/srv/s"))
        assert "server 127.0.0.1:8001;" in text
        assert "proxy_set_header Upgrade $http_upgrade;" in text
        assert "proxy_set_header Connection $constellation_connection;" in text
        assert "proxy_read_timeout 3600s;" in text
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
        assert "alias /srv/s/;" in text
        assert "ssl" not in text.replace("X-SSL", "")
        assert "least_conn" not in text  # one upstream

    def test_several_upstreams_are_balanced_by_open_connections(self) -> None:
        text = nginx_site_render(
            nginx_site(upstreams=["10.0.0.1:8000", "10.0.0.2:8000", "unix:/run/c.sock"])
        )
        assert "least_conn;" in text
        for upstream in ("10.0.0.1:8000", "10.0.0.2:8000", "unix:/run/c.sock"):
            assert f"server {upstream};" in text

    def test_with_a_certificate_it_serves_tls_and_redirects_browsers(
        self, certificate: tuple[Path, Path]
    ) -> None:
        cert, key = certificate
        text = nginx_site_render(
            nginx_site(tls_cert=str(cert), tls_key=str(key), http_port=80, tls_port=8443)
        )
        assert "listen 8443 ssl;" in text
        assert f"ssl_certificate {cert.resolve()};" in text
        assert 'set $constellation_redirect "https://$host:8443$request_uri";' in text
        assert "ssl_verify_client" not in text

    def test_a_client_ca_passes_the_verified_certificate_to_the_app(
        self, certificate: tuple[Path, Path]
    ) -> None:
        cert, key = certificate
        text = nginx_site_render(
            nginx_site(tls_cert=str(cert), tls_key=str(key), tls_client_ca=str(cert))
        )
        assert "ssl_verify_client optional;" in text
        assert "proxy_set_header X-SSL-Client-Verify $ssl_client_verify;" in text
        # On plain HTTP the same headers are emptied: a client cannot claim a certificate.
        assert 'proxy_set_header X-SSL-Client-Verify "";' in text

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"server_names": ["example.org; include /etc/passwd"]}, "Not a server name"),
            ({"upstreams": ["127.0.0.1"]}, "Not an upstream"),
            ({"upstreams": ["127.0.0.1:99999"]}, "Not an upstream"),
            ({"upstreams": ["h:80; evil"]}, "Not an upstream"),
            ({"http_port": 0}, "--port must be from 1 to 65535"),
            ({"tls_cert": "/nonexistent.pem"}, "--tls-cert and --tls-key go together"),
            ({"tls_cert": "/no/cert.pem", "tls_key": "/no/key.pem"}, "no file /no/cert.pem"),
            ({"tls_client_ca": "/etc/hostname"}, "--tls-client-ca needs --tls-cert"),
            ({"static_root": "/srv/static; root /"}, "may not hold spaces"),
        ],
    )
    def test_it_refuses_bad_values_saying_why(self, kwargs: dict, message: str) -> None:
        with pytest.raises(NginxSiteError, match=message.replace("(", r"\(")):
            nginx_site(**kwargs)


class TestNginxCheck:
    def test_nginx_accepts_the_plain_site(self, nginx: str) -> None:
        valid, output = nginx_check(
            nginx_site_render(nginx_site(upstreams=["127.0.0.1:1", "127.0.0.1:2"]))
        )
        assert valid, output

    def test_nginx_accepts_the_tls_site_with_client_certificates(
        self, nginx: str, certificate: tuple[Path, Path]
    ) -> None:
        cert, key = certificate
        site = nginx_site(tls_cert=str(cert), tls_key=str(key), tls_client_ca=str(cert))
        valid, output = nginx_check(nginx_site_render(site))
        assert valid, output

    def test_nginx_refuses_a_broken_site(self, nginx: str) -> None:
        valid, output = nginx_check("server { listen not-a-port; }\n")
        assert not valid
        assert "listen" in output

    def test_the_command_writes_the_checked_site(
        self, nginx: str, tmp_path: Path, capsys: pytest.CaptureFixture
    ) -> None:
        out = tmp_path / "constellation.conf"
        call_command(
            "nginx_site", "--output", str(out), "--check", "--server-name", "csms.example.org",
            "--port", "8080", "--upstream", "127.0.0.1:8001", "--upstream", "127.0.0.1:8002",
        )  # fmt: skip
        text = out.read_text()
        assert "server_name csms.example.org;" in text
        assert "listen 8080;" in text
        assert f"wrote {out}" in capsys.readouterr().out

    def test_the_command_writes_a_standalone_configuration_nginx_accepts(
        self, nginx: str, tmp_path: Path
    ) -> None:
        out, prefix = tmp_path / "site.conf", tmp_path / "try"
        call_command(
            "nginx_site", "--output", str(out), "--port", "8080", "--standalone", str(prefix)
        )
        conf = prefix / "nginx.conf"
        assert f"include {out};" in conf.read_text()
        checked = subprocess.run(
            [nginx, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr

    def test_the_command_refuses_bad_values_and_writes_nothing(self, tmp_path: Path) -> None:
        out = tmp_path / "constellation.conf"
        with pytest.raises(CommandError, match="--tls-cert and --tls-key go together"):
            call_command("nginx_site", "--output", str(out), "--tls-key", "k.pem")
        assert not out.exists()


# --- a real nginx in front of the ASGI server -------------------------------------------------


def wait_port(port: int, process: subprocess.Popen, prefix: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, (prefix / "logs" / "error.log").read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}")


@contextlib.contextmanager
def running_nginx(nginx: str, site_text: str, prefix: Path, *ports: int) -> Iterator[None]:
    site = prefix / "site.conf"
    prefix.mkdir(parents=True, exist_ok=True)
    site.write_text(site_text)
    conf = standalone_conf(site, prefix, user="root" if os.geteuid() == 0 else "")
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for port in ports:
            wait_port(port, process, prefix)
        yield
    finally:
        process.terminate()
        process.wait(20)


async def boot(ws: object, charger_id: str) -> str:
    charger = V16Charger(charger_id, ws, response_timeout=10)
    task = asyncio.create_task(charger.start())
    try:
        answer = await charger.call(
            call.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return answer.status


@pytest.fixture
def accept_all(settings) -> None:
    settings.OCPP_UNKNOWN_STATIONS = "accept"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
async def test_a_charger_boots_through_nginx_and_nginx_serves_static_files(
    nginx: str, asgi_server, accept_all: None, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    (static / "nodes").mkdir(parents=True)
    (static / "nodes" / "only-in-nginx.txt").write_text("served by nginx\n")
    port = free_port()
    site = nginx_site(
        http_port=port, upstreams=[f"127.0.0.1:{asgi_server.port}"], static_root=str(static)
    )
    with running_nginx(nginx, nginx_site_render(site), tmp_path / "nginx", port):
        async with connect_v16(f"ws://127.0.0.1:{port}", "NGINX-PLAIN") as cp:
            answer = await cp.call(
                call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
        assert answer.status == "Accepted"

        served = await asyncio.to_thread(
            requests.get,
            f"http://127.0.0.1:{port}/static/nodes/only-in-nginx.txt",
            timeout=10,
            proxies=NO_PROXY,
        )
        assert served.status_code == 200
        assert served.text == "served by nginx\n"
        assert served.headers["Server"].startswith("nginx")
        health = await asyncio.to_thread(
            requests.get, f"http://127.0.0.1:{port}/healthz", timeout=10, proxies=NO_PROXY
        )
        assert health.status_code == 200  # proxied to the app


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
async def test_a_charger_boots_over_wss_through_nginx_and_browsers_are_redirected(
    nginx: str, asgi_server, accept_all: None, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    http_port, tls_port = free_port(), free_port()
    site = nginx_site(
        http_port=http_port,
        tls_port=tls_port,
        upstreams=[f"127.0.0.1:{asgi_server.port}"],
        static_root=str(tmp_path),
        tls_cert=str(cert),
        tls_key=str(key),
    )
    context = ssl.create_default_context(cafile=str(cert))
    with running_nginx(nginx, nginx_site_render(site), tmp_path / "nginx", http_port, tls_port):
        async with websockets.connect(
            f"wss://127.0.0.1:{tls_port}/ocpp/NGINX-TLS", subprotocols=["ocpp1.6"], ssl=context
        ) as ws:
            assert await boot(ws, "NGINX-TLS") == "Accepted"

        redirected = await asyncio.to_thread(
            requests.get,
            f"http://127.0.0.1:{http_port}/admin/",
            timeout=10,
            proxies=NO_PROXY,
            allow_redirects=False,
        )
        assert redirected.status_code == 301
        assert redirected.headers["Location"] == f"https://127.0.0.1:{tls_port}/admin/"
        health = await asyncio.to_thread(
            requests.get,
            f"https://127.0.0.1:{tls_port}/healthz",
            timeout=10,
            proxies=NO_PROXY,
            verify=str(cert),
        )
        assert health.status_code == 200


@contextlib.contextmanager
def header_echo() -> Iterator[int]:
    """An upstream that answers each request with the headers it received (as JSON)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_nginx_replaces_what_a_client_claims_in_the_trusted_headers(
    nginx: str, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    http_port, tls_port = free_port(), free_port()
    with header_echo() as upstream:
        site = nginx_site(
            http_port=http_port,
            tls_port=tls_port,
            upstreams=[f"127.0.0.1:{upstream}"],
            static_root=str(tmp_path),
            tls_cert=str(cert),
            tls_key=str(key),
            tls_client_ca=str(cert),
        )
        forged = {
            "X-SSL-Client-Verify": "SUCCESS",
            "X-SSL-Client-S-DN": "CN=VICTIM",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
        }
        with running_nginx(nginx, nginx_site_render(site), tmp_path / "nginx", http_port, tls_port):
            seen = requests.get(
                f"https://127.0.0.1:{tls_port}/echo",
                headers=forged,
                timeout=10,
                proxies=NO_PROXY,
                verify=str(cert),
            ).json()
            # On the HTTP port only a websocket handshake is proxied (browsers are redirected).
            plain = requests.get(
                f"http://127.0.0.1:{http_port}/echo",
                headers={**forged, "Upgrade": "websocket", "Connection": "Upgrade"},
                timeout=10,
                proxies=NO_PROXY,
                allow_redirects=False,
            ).json()
    assert "x-ssl-client-verify" not in plain  # no TLS, so no certificate to claim
    assert "x-ssl-client-s-dn" not in plain
    assert plain["x-forwarded-proto"] == "http"
    assert plain["upgrade"] == "websocket"
    assert plain["connection"] == "upgrade"
    # No client certificate was presented: nginx says so, whatever the client claimed.
    assert seen["x-ssl-client-verify"] == "NONE"
    assert "x-ssl-client-s-dn" not in seen  # empty: not passed on
    assert seen["x-forwarded-proto"] == "https"  # nginx's own scheme
    # The client's claim stays first; the address nginx saw is appended (the app counts from
    # the right, past its trusted proxies).
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert "upgrade" not in seen  # a plain request is no websocket handshake upstream
