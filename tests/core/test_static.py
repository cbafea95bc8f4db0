"""Static files are served by the ASGI server itself: the admin and API docs look right."""

from __future__ import annotations

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
