"""This node's NGINX site: rendered from templates/nodes/nginx-site.conf, checked by `nginx -t`.

The site proxies HTTP and the OCPP websockets to one or more ASGI workers (several for a
Watchtower's multi-worker set-up), serves STATIC_ROOT itself, and terminates TLS when a
certificate is given (HTTP requests are then redirected to HTTPS; websockets are proxied on
both ports and the app's own rules decide). Values are validated before they reach the
template, so nothing an operator types can add an nginx directive.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

# A host name, "_" (any), "*.example.org", or an IP address; several separated by spaces.
_SERVER_NAME = re.compile(r"^(_|\*?[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])$")
_UPSTREAM = re.compile(r"^(?:\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$|^unix:/[^\s;{}'\"]+$")
_PATH = re.compile(r"^/[^\s;{}'\"$\\]*$")
READ_TIMEOUT_S = 3600
MAX_BODY = "64m"


class NginxSiteError(ValueError):
    """A site setting that would not make a valid or safe nginx configuration."""


@dataclass(frozen=True, slots=True)
class NginxSite:
    server_names: tuple[str, ...]
    http_port: int
    tls_port: int
    upstreams: tuple[str, ...]
    static_root: str
    static_url: str
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


def _port(value: int, what: str) -> int:
    if not 1 <= value <= 65535:
        raise NginxSiteError(_("%(what)s must be from 1 to 65535, not %(value)s.") % {
            "what": what, "value": value})  # fmt: skip
    return value


def _file(value: str, what: str) -> str:
    path = str(Path(value).resolve())
    if not _PATH.match(path):
        raise NginxSiteError(_("%(what)s: the path may not hold spaces, quotes, ; { } $ or \\ "
                               "(%(path)s).") % {"what": what, "path": path})  # fmt: skip
    if not Path(path).is_file():
        raise NginxSiteError(_("%(what)s: no file %(path)s.") % {"what": what, "path": path})
    return path


def nginx_site(
    *,
    server_names: list[str] | None = None,
    http_port: int = 80,
    tls_port: int = 443,
    upstreams: list[str] | None = None,
    static_root: str | None = None,
    tls_cert: str = "",
    tls_key: str = "",
    tls_client_ca: str = "",
) -> NginxSite:
    """Validate the site's settings; raise NginxSiteError saying what is wrong."""
    names = tuple(server_names or ["_"])
    for name in names:
        if not _SERVER_NAME.match(name):
            raise NginxSiteError(_("Not a server name: %(name)r.") % {"name": name})
    ups = tuple(upstreams or ["127.0.0.1:8000"])
    for upstream in ups:
        match = _UPSTREAM.match(upstream)
        if not match or (match.group(1) and not 1 <= int(match.group(1)) <= 65535):
            raise NginxSiteError(
                _("Not an upstream (host:port or unix:/path): %(value)r.") % {"value": upstream}
            )
    _port(http_port, "--port")
    if bool(tls_cert) != bool(tls_key):
        raise NginxSiteError(_("--tls-cert and --tls-key go together."))
    if tls_client_ca and not tls_cert:
        raise NginxSiteError(_("--tls-client-ca needs --tls-cert and --tls-key."))
    if tls_cert:
        _port(tls_port, "--tls-port")
        if tls_port == http_port:
            raise NginxSiteError(_("--tls-port must differ from --port."))
        tls_cert, tls_key = _file(tls_cert, "--tls-cert"), _file(tls_key, "--tls-key")
        if tls_client_ca:
            tls_client_ca = _file(tls_client_ca, "--tls-client-ca")
    root = str(Path(static_root or settings.STATIC_ROOT).resolve())
    if not _PATH.match(root):
        raise NginxSiteError(_("The static folder's path may not hold spaces, quotes, ; { } $ "
                               "or \\ (%(path)s).") % {"path": root})  # fmt: skip
    static_url = "/" + str(settings.STATIC_URL).strip("/") + "/"
    return NginxSite(
        names, http_port, tls_port, ups, root, static_url, tls_cert, tls_key, tls_client_ca
    )


def nginx_site_render(site: NginxSite) -> str:
    """Return the site's configuration (for nginx's http block)."""
    servers = [{"port": site.http_port, "tls": False, "redirect": site.tls}]
    if site.tls:
        servers.append({"port": site.tls_port, "tls": True, "redirect": False})
    return render_to_string(
        "nodes/nginx-site.conf",
        {
            "server_name": " ".join(site.server_names),
            "servers": servers,
            "tls_port": site.tls_port,
            "upstreams": site.upstreams,
            "static_root": site.static_root,
            "static_url": site.static_url,
            "tls_cert": site.tls_cert,
            "tls_key": site.tls_key,
            "tls_client_ca": site.tls_client_ca,
            "read_timeout": READ_TIMEOUT_S,
            "max_body": MAX_BODY,
        },
    )


def standalone_conf(site_file: Path, prefix: Path, *, user: str = "") -> Path:
    """Write PREFIX/nginx.conf: a whole nginx configuration around `site_file` whose pid,
    logs and temporary files stay in `prefix`, so that nginx runs (or `nginx -t` checks it)
    without root and beside a system nginx. `user`: the workers' user when run as root."""
    prefix.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(exist_ok=True)
    temps = "\n".join(
        f"    {name}_temp_path {prefix / 'tmp' / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        (f"user {user};\n" if user else "")
        + f"pid {prefix / 'nginx.pid'};\n"
        + f"error_log {prefix / 'logs' / 'error.log'} warn;\n"
        + "worker_processes 1;\n"
        + "events { worker_connections 1024; }\n"
        + "http {\n"
        + "    include /etc/nginx/mime.types;\n"
        + "    default_type application/octet-stream;\n"
        + f"    access_log {prefix / 'logs' / 'access.log'};\n"
        + temps
        + f"\n    include {site_file};\n"
        + "}\n"
    )
    return conf


def nginx_check(site_text: str) -> tuple[bool, str]:
    """Check a site with the real `nginx -t` (in a standalone configuration around it).

    Return (valid, nginx's output). Raise NginxSiteError when nginx is not installed.
    """
    program = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if program is None:
        raise NginxSiteError(_("nginx is not installed: the site cannot be checked."))
    with tempfile.TemporaryDirectory(prefix="nginx-check-") as folder:
        prefix = Path(folder)
        site = prefix / "site.conf"
        site.write_text(site_text)
        conf = standalone_conf(site, prefix)
        done = subprocess.run(
            [program, "-t", "-q", "-p", str(prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    return done.returncode == 0, (done.stdout + done.stderr).strip()
