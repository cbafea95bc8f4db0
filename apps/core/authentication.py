"""API token authentication with an expiry (kept apart from apps.core.tokens: DRF's settings
import it early, before its views can be imported)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from apps.core.timeutil import format_ocpp_datetime, utcnow

if TYPE_CHECKING:
    from rest_framework.authtoken.models import Token


def token_expires_at(token: Token) -> datetime:
    """Return when `token` stops opening the API: API_TOKEN_TTL days after it was issued."""
    return token.created + timedelta(days=settings.API_TOKEN_TTL)


def token_expired(token: Token) -> bool:
    return token_expires_at(token) <= utcnow()


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused (401) once the token is API_TOKEN_TTL days old."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(
                _("Token expired at %(when)s: ask POST /api/auth/token/ for a new one.")
                % {"when": format_ocpp_datetime(token_expires_at(token))}
            )
        return user, token
