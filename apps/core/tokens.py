"""API tokens: issued by user name and password (throttled, under the login lockout), valid
for API_TOKEN_TTL days (apps.core.authentication), revoked by their holder."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.core.authentication import (
    ExpiringTokenAuthentication,
    token_expired,
    token_expires_at,
)
from apps.core.logins import client_ip, lockout_message
from apps.core.timeutil import format_ocpp_datetime


class TokenRequestThrottle(SimpleRateThrottle):
    """Requests for a token per client address, at API_TOKEN_RATE."""

    scope = "auth-token"

    def get_rate(self) -> str:
        return settings.API_TOKEN_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


def _token_answer(token: Token) -> dict[str, str]:
    return {"token": token.key, "expires_at": format_ocpp_datetime(token_expires_at(token))}


TOKEN_ANSWER = inline_serializer(
    "ApiToken", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
)


class TokenObtainView(ObtainAuthToken):
    """Give the user's token for a user name and password (a new one when it has expired)."""

    throttle_classes = (TokenRequestThrottle,)

    @extend_schema(request=ObtainAuthToken.serializer_class, responses={200: TOKEN_ANSWER})
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):
                return Response(
                    {"detail": lockout_message()},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(settings.LOGIN_LOCKOUT_SECONDS)},
                )
            serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        with transaction.atomic():
            token, _created = Token.objects.select_for_update().get_or_create(user=user)
            if token_expired(token):
                token.delete()
                token = Token.objects.create(user=user)
        return Response(_token_answer(token))


class TokenRevokeView(APIView):
    """Revoke the token this request is authenticated with; ask for a new one to go on."""

    authentication_classes = (ExpiringTokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        Token.objects.filter(key=request.auth.key).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
