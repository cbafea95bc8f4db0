"""Building blocks every app's REST API shares: permissions, pagination, filters, timestamps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.permissions import DjangoModelPermissionsWithView
from apps.core.timeutil import format_ocpp_datetime

__all__ = ["DjangoModelPermissionsWithView"]


def require_perms(*perms: str) -> type[BasePermission]:
    """Return a permission class that lets in authenticated users holding every one of `perms`.

    For actions whose meaning is not the HTTP method's (POST .../approve/ changes a station).
    """

    class HasPerms(BasePermission):
        message = f"You need the permission(s): {', '.join(perms)}."

        def has_permission(self, request: Request, view: APIView) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    HasPerms.__name__ = HasPerms.__qualname__ = "HasPerms_" + "_".join(
        p.replace(".", "_") for p in perms
    )
    return HasPerms


class StandardPagination(PageNumberPagination):
    """`?page=N`, 50 rows a page unless `?page_size=` asks for another size (up to 500)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class UtcDateTimeField(serializers.DateTimeField):
    """A timestamp written in UTC as ISO 8601 with `Z` and milliseconds, as OCPP sends them."""

    def to_representation(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return format_ocpp_datetime(value)


# Subclasses write their own docstring: it becomes their description in the OpenAPI schema.
class ApiModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class QueryFilter:
    """One `?name=value` filter of a list: the ORM lookup it applies and the value's type."""

    lookup: str
    kind: type = str  # str, bool or int
    description: str = ""

    def parse(self, raw: str) -> Any:
        parsers: dict[type, Callable[[str], Any]] = {str: str, bool: _parse_bool, int: int}
        return parsers[self.kind](raw)


class QueryFilterBackend(BaseFilterBackend):
    """Apply the view's `query_filters` ({param: QueryFilter}); a bad value is a 400."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        errors = {}
        for name, spec in getattr(view, "query_filters", {}).items():
            raw = request.query_params.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = spec.parse(raw)
            except ValueError as exc:
                errors[name] = [f"{raw!r} is not valid here: {exc}"]
                continue
            queryset = queryset.filter(**{spec.lookup: value})
        if errors:
            raise serializers.ValidationError(errors)
        return queryset

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        types = {str: "string", bool: "boolean", int: "integer"}
        return [
            {
                "name": name,
                "required": False,
                "in": OpenApiParameter.QUERY,
                "description": spec.description,
                "schema": {"type": types[spec.kind]},
            }
            for name, spec in getattr(view, "query_filters", {}).items()
        ]


class ApiViewMixin:
    """What every viewset of the API shares: model permissions with view, filters, pages."""

    permission_classes = [DjangoModelPermissionsWithView]
    pagination_class = StandardPagination
    filter_backends = [QueryFilterBackend]
    query_filters: dict[str, QueryFilter] = {}
