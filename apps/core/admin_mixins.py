"""Shapes shared by the apps' admin classes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class RecordAdminMixin:
    """A record only the system writes: operators read it, never add, change or delete it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
