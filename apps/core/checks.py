"""System checks of the operator login, API token and server edge settings (`manage.py check`)."""

from __future__ import annotations

import math
import re
from typing import Any

from django.conf import settings
from django.core.checks import Error

# DRF's throttle rates: "10/minute", "100/hour", "5/s".
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def check_login_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.API_TOKEN_TTL < 1:
        errors.append(
            Error(
                f"API_TOKEN_TTL is {settings.API_TOKEN_TTL}: tokens must expire.",
                hint="Set API_TOKEN_TTL to the days a token stays valid (1 or more).",
                id="core.E001",
            )
        )
    if not _RATE.match(str(settings.API_TOKEN_RATE).strip()):
        errors.append(
            Error(
                f"API_TOKEN_RATE {settings.API_TOKEN_RATE!r} is not a rate.",
                hint="Write requests per period, e.g. 10/minute (second, minute, hour, day).",
                id="core.E002",
            )
        )
    if settings.LOGIN_MAX_FAILURES < 1 or settings.LOGIN_LOCKOUT_SECONDS < 1:
        errors.append(
            Error(
                "LOGIN_MAX_FAILURES and LOGIN_LOCKOUT_SECONDS must be 1 or more "
                f"(they are {settings.LOGIN_MAX_FAILURES} and {settings.LOGIN_LOCKOUT_SECONDS}).",
                id="core.E003",
            )
        )
    timeout = settings.OCPP_HANDSHAKE_TIMEOUT
    if not math.isfinite(timeout) or timeout <= 0:
        errors.append(
            Error(
                f"OCPP_HANDSHAKE_TIMEOUT is {timeout}: a client needs time to send its request.",
                hint="Set OCPP_HANDSHAKE_TIMEOUT to the seconds a client may take (e.g. 20).",
                id="core.E004",
            )
        )
    if settings.OCPP_MAX_CONNECTIONS_PER_IP < 0:
        errors.append(
            Error(
                f"OCPP_MAX_CONNECTIONS_PER_IP is {settings.OCPP_MAX_CONNECTIONS_PER_IP}.",
                hint="Set it to the connections one address may hold (0: no limit).",
                id="core.E005",
            )
        )
    return errors
