"""The server's command line with TLS (config/serve.py): uvicorn serves it, daphne is refused."""

from __future__ import annotations

import itertools
import ssl
from pathlib import Path

import pytest

from apps.security import ca
from config.serve import server_command, tls_files


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str, str]:
    names = [tmp_path / name for name in ("server.pem", "server.key", "clients-ca.pem")]
    for path in names:
        path.write_text("x")
    return tuple(str(path) for path in names)


def test_uvicorn_asks_for_a_client_certificate_without_requiring_one(files):
    tls = tls_files(*files)
    command = server_command("uvicorn", "0.0.0.0", 443, max_frame_bytes=65536, tls=tls)
    options = dict(itertools.pairwise(command))  # each option with the value after it
    assert options["--ssl-certfile"] == files[0]
    assert options["--ssl-keyfile"] == files[1]
    assert options["--ssl-ca-certs"] == files[2]
    assert options["--ssl-cert-reqs"] == str(int(ssl.CERT_OPTIONAL))
    assert "--ssl-certfile" not in server_command("uvicorn", "0.0.0.0", 80, max_frame_bytes=1)


def test_the_client_ca_is_the_csms_ca_by_default(files, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    tls = tls_files(files[0], files[1], "")
    assert tls is not None
    assert tls.client_ca == str(ca.ca_certificate_path())
    assert Path(tls.client_ca).is_file()


def test_unfit_tls_settings_are_told_plainly(files, tmp_path):
    assert tls_files("", "", files[2]) is None
    with pytest.raises(ValueError, match="set together"):
        tls_files(files[0], "", "")
    with pytest.raises(ValueError, match="TLS file not found"):
        tls_files(files[0], str(tmp_path / "missing.key"), files[2])


def test_daphne_is_refused_tls(files):
    with pytest.raises(ValueError, match="daphne cannot serve TLS"):
        server_command("daphne", "0.0.0.0", 443, max_frame_bytes=65536, tls=tls_files(*files))
