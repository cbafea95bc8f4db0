"""Make the TLS server certificate chargers connect to, signed by the CSMS CA."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.security import ca

CERT_FILE = "server.pem"
KEY_FILE = "server.key"
DEFAULT_DAYS = 365


def tls_directory() -> Path:
    return Path(settings.DATA_DIR) / "tls"


class Command(BaseCommand):
    help = (
        "Make a TLS server certificate (and its key, mode 0600) signed by the CSMS CA, in "
        "DATA_DIR/tls, for start.sh --tls-cert/--tls-key. Chargers that trust the CA trust it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            action="append",
            required=True,
            help="a name or IP address chargers connect to (repeat for more; the first is CN)",
        )
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days it is valid")
        parser.add_argument("--dir", default="", help="folder to write to (default DATA_DIR/tls)")
        parser.add_argument("--force", action="store_true", help="replace existing files")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be 1 or more")
        folder = Path(options["dir"]).expanduser() if options["dir"] else tls_directory()
        cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
        if not options["force"] and (cert_path.exists() or key_path.exists()):
            raise CommandError(f"{cert_path} or {key_path} exists: --force replaces them")
        try:
            chain_pem, key_pem = ca.server_certificate_issue(
                hostnames=tuple(options["host"]), days=options["days"]
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"the CA cannot be used: {exc}") from exc
        folder.mkdir(parents=True, exist_ok=True)
        _write(key_path, key_pem, 0o600)
        _write(cert_path, chain_pem, 0o644)
        self.stdout.write(
            f"wrote {cert_path} (certificate and CA chain) and {key_path} (key)\n"
            f"serve TLS with: ./start.sh --tls-cert {cert_path} --tls-key {key_path}\n"
            f"chargers must trust the CA: {ca.ca_certificate_path()}"
        )


def _write(path: Path, text: str, mode: int) -> None:
    """Write a file through a new one renamed into place, created with `mode` from the start."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(partial, path)
