"""Write this node's NGINX site (templates/nodes/nginx-site.conf), checked with `nginx -t`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.nodes.nginx import (
    NginxSiteError,
    nginx_check,
    nginx_site,
    nginx_site_render,
    standalone_conf,
)


class Command(BaseCommand):
    help = (
        "Write the NGINX site that proxies HTTP and the OCPP websockets to the ASGI worker(s), "
        "serves the static files and, with a certificate, TLS. Checked with `nginx -t` when "
        "nginx is installed (--check: fail when it is not)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="file to write ('-': stdout)")
        parser.add_argument("--server-name", action="append", default=[], dest="server_names")
        parser.add_argument("--port", type=int, default=80, help="HTTP port (default 80)")
        parser.add_argument("--tls-port", type=int, default=443, help="HTTPS port (default 443)")
        parser.add_argument(
            "--upstream",
            action="append",
            default=[],
            dest="upstreams",
            metavar="HOST:PORT",
            help="an ASGI worker (repeatable; default 127.0.0.1:8000)",
        )
        parser.add_argument("--static-root", help="default: STATIC_ROOT")
        parser.add_argument("--tls-cert", default="")
        parser.add_argument("--tls-key", default="")
        parser.add_argument("--tls-client-ca", default="", help="CA of chargers' certificates")
        parser.add_argument(
            "--standalone",
            metavar="DIR",
            help="also write DIR/nginx.conf around the site (pid, logs, temporary files in "
            "DIR) to try it without root: nginx -p DIR -c DIR/nginx.conf",
        )
        check = parser.add_mutually_exclusive_group()
        check.add_argument("--check", action="store_true", help="nginx -t must run and pass")
        check.add_argument("--no-check", action="store_true", help="do not run nginx -t")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            site = nginx_site(
                server_names=options["server_names"],
                http_port=options["port"],
                tls_port=options["tls_port"],
                upstreams=options["upstreams"],
                static_root=options["static_root"],
                tls_cert=options["tls_cert"],
                tls_key=options["tls_key"],
                tls_client_ca=options["tls_client_ca"],
            )
            text = nginx_site_render(site)
            if not options["no_check"]:
                try:
                    valid, output = nginx_check(text)
                except NginxSiteError:
                    if options["check"]:
                        raise
                    self.stderr.write("nginx is not installed: the site was not checked")
                else:
                    if not valid:
                        raise CommandError(f"nginx -t refused the site:\n{output}")
        except NginxSiteError as exc:
            raise CommandError(str(exc)) from exc
        if options["output"] == "-":
            self.stdout.write(text, ending="")
            return
        path = Path(options["output"])
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)  # nginx never reads half a file
        self.stdout.write(f"wrote {path}")
        if options["standalone"]:
            prefix = Path(options["standalone"]).resolve()
            conf = standalone_conf(path.resolve(), prefix)
            self.stdout.write(f"wrote {conf}; run: nginx -p {prefix} -c {conf} -g 'daemon off;'")
