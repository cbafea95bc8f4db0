"""Static files are served by the ASGI server itself: the admin and API docs look right."""

from __future__ import annotations

import warnings

import pytest
import requests


@pytest.mark.parametrize(
    "path",
    [
        "/static/admin/css/base.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    ],
)
def test_static_files_are_served(asgi_server, path):
    response = requests.get(asgi_server.http_url + path, timeout=10)
    assert response.status_code == 200
    assert len(response.content) > 1000


# --- issue #20: no synchronous streaming under ASGI, a favicon ------------------------------

SYNC_STREAMING = "StreamingHttpResponse must consume synchronous iterators"


def sidecar_file(name: str) -> bytes:
    from pathlib import Path

    import drf_spectacular_sidecar

    return (Path(drf_spectacular_sidecar.__file__).parent / "static" / name).read_bytes()


def test_static_files_stream_without_the_synchronous_iterator_warning(asgi_server):
    redoc = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Bigger than one chunk: every byte arrives, in order.
        big = requests.get(f"{asgi_server.http_url}/static/{redoc}", timeout=10)
        favicon = requests.get(f"{asgi_server.http_url}/favicon.ico", timeout=10)
        head = requests.head(f"{asgi_server.http_url}/static/admin/css/base.css", timeout=10)
        unchanged = requests.get(
            f"{asgi_server.http_url}/static/admin/css/base.css",
            headers={"If-None-Match": head.headers["ETag"]},
            timeout=10,
        )
    assert big.status_code == 200
    assert big.content == sidecar_file(redoc)
    assert int(big.headers["Content-Length"]) == len(big.content) > 256 * 1024
    assert favicon.status_code == 200
    assert head.status_code == 200 and head.content == b""
    assert unchanged.status_code == 304
    messages = [str(w.message) for w in caught if SYNC_STREAMING in str(w.message)]
    assert messages == []


def test_favicon_ico_answers_at_the_root(asgi_server):
    from django.conf import settings

    response = requests.get(f"{asgi_server.http_url}/favicon.ico", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = response.content
    assert body == (settings.BASE_DIR / "static" / "root" / "favicon.ico").read_bytes()
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
