"""Production HTTP settings: `check --deploy` is clean in production, and says what is missing
otherwise; the security headers, the HTTPS redirect and the admin's login wall.

The API's refusal of anonymous requests is covered by tests/core/test_api_permissions.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Every variable of the production block, so that the caller's environment cannot leak in.
HTTPS_VARIABLES = (
    "HTTPS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUSTED_PROXY_SSL_HEADER",
    "SECURE_REFERRER_POLICY",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
)
PRODUCTION = {
    "DEBUG": "false",
    "HTTPS": "true",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "csms.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
# Run Django without reading a developer's .env: only the environment given counts.
WITHOUT_DOTENV = "import environ; environ.Env.read_env = lambda *a, **k: None; "
CHECK_DEPLOY = WITHOUT_DOTENV + (
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
)
WARNING_ID = re.compile(r"\((security\.W\d+)\)")


def run_python(code: str, tmp_path: Path, **values: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in HTTPS_VARIABLES}
    environment.update(values, DJANGO_SETTINGS_MODULE="config.settings")
    environment["DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    completed = run_python(CHECK_DEPLOY, tmp_path, **PRODUCTION)

    assert completed.returncode == 0, completed.stderr
    assert "System check identified no issues" in completed.stdout


@pytest.mark.parametrize(
    ("values", "warnings"),
    [
        pytest.param(
            {},
            {"security.W004", "security.W008", "security.W012", "security.W016"},
            id="defaults",
        ),
        # HTTPS declared: secure cookies and a year of HSTS come with it; the redirect, HSTS
        # for subdomains and preloading stay the operator's decisions.
        pytest.param(
            {"HTTPS": "true"},
            {"security.W005", "security.W008", "security.W021"},
            id="https-only",
        ),
        pytest.param(
            {**PRODUCTION, "DEBUG": "true", "SECRET_KEY": "short"},
            {"security.W009", "security.W018"},
            id="debug-and-weak-key",
        ),
    ],
)
def test_check_deploy_lists_what_is_missing(
    tmp_path: Path, values: dict[str, str], warnings: set[str]
) -> None:
    completed = run_python(CHECK_DEPLOY, tmp_path, **values)

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert set(WARNING_ID.findall(completed.stderr)) == warnings, completed.stderr


def test_the_https_settings_follow_the_environment(tmp_path: Path) -> None:
    probe = WITHOUT_DOTENV + (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_SSL_REDIRECT, getattr(s, 'SECURE_PROXY_SSL_HEADER', None)]))"
    )

    def read(**values: str) -> list:
        completed = run_python(probe, tmp_path, **values)
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout.strip().splitlines()[-1])

    assert read() == [False, False, 0, False, None]
    assert read(HTTPS="true") == [True, True, 31_536_000, False, None]
    assert read(HTTPS="true", SECURE_HSTS_SECONDS="3600", CSRF_COOKIE_SECURE="false") == [
        True,
        False,
        3600,
        False,
        None,
    ]
    assert read(TRUSTED_PROXY_SSL_HEADER="true", SECURE_SSL_REDIRECT="true") == [
        False,
        False,
        0,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]


@pytest.mark.django_db
def test_every_page_carries_the_security_headers(client) -> None:
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_https_redirect_spares_health_checks_and_charger_files(client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    admin = client.get("/admin/")
    files = client.get("/files/firmware/no-such-token/fw.bin")
    health = client.get("/healthz")

    assert admin.status_code == 301
    assert admin["Location"] == "https://testserver/admin/"
    assert files.status_code == 404  # served (an unknown token), not redirected
    assert health.status_code in (200, 503)


@pytest.mark.django_db
def test_the_https_redirect_believes_a_trusted_proxy(client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/", "/admin/chargers/chargingstation/", "/admin/doc/"])
def test_the_admin_sends_anonymous_users_to_the_login_page(client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
