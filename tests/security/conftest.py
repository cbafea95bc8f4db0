"""A TLS server for the security profile tests: a self-signed certificate made per session."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import LiveServer
from tests.pki import self_signed


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key, cert = self_signed("127.0.0.1", ip="127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


@pytest.fixture(scope="session")
def tls_server(django_db_setup: None, tls_files: tuple[Path, Path]) -> Iterator[LiveServer]:
    server = LiveServer(certfile=str(tls_files[0]), keyfile=str(tls_files[1]))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_client_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))
