"""HTTP transfers of a simulated charger: firmware download, diagnostics/log upload.

Blocking `requests` calls, meant for `asyncio.to_thread`: they are rare, and a thread for
the few seconds of a transfer costs nothing next to a thread per charger.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import requests

TIMEOUT_S = 30.0
CHUNK_BYTES = 64 * 1024


class TransferError(Exception):
    """The transfer failed; the message says why, for the charger's log."""


def _check_http(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise TransferError(f"cannot transfer over {scheme or 'no scheme'}: HTTP(S) only")


def download(url: str, *, timeout: float = TIMEOUT_S) -> tuple[int, str]:
    """Fetch `url` and return (size in bytes, SHA-256 hex digest); keep nothing in memory."""
    _check_http(url)
    digest = hashlib.sha256()
    size = 0
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise TransferError(f"GET {url}: HTTP {response.status_code}")
            for chunk in response.iter_content(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except requests.RequestException as exc:
        raise TransferError(f"GET {url}: {exc}") from exc
    return size, digest.hexdigest()


def upload(url: str, *, filename: str, content: bytes, timeout: float = TIMEOUT_S) -> int:
    """POST `content` to `url` as a multipart file upload; return the HTTP status."""
    _check_http(url)
    try:
        response = requests.post(
            url, files={"file": (filename, content, "text/plain")}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise TransferError(f"POST {url}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise TransferError(f"POST {url}: HTTP {response.status_code}")
    return response.status_code
