"""Reads: what a user may export, and the bundle of it; the change history of an object."""

from __future__ import annotations

import socket
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import QuerySet

from apps.core.timeutil import utcnow
from apps.nodes.models import Node
from apps.userdata.bundle import FORMAT, SPECS, USER, VERSION, Spec, iso_utc, row_of

AnyUser = AbstractBaseUser | AnonymousUser


def perm_name(spec: Spec, action: str) -> str:
    meta = spec.model._meta
    return f"{meta.app_label}.{action}_{meta.model_name}"


def owned_filter(spec: Spec, user: AnyUser) -> models.Q | None:
    """Return the rows of `spec` an account owner holds without permissions, or None for none.

    An owner holds their energy accounts, the id tags of those accounts, their reservations
    and their favorites.
    """
    if spec.key == "energy.energyaccount":
        return models.Q(owner=user)
    if spec.key in {"rfid.idtag", "reservations.reservation"}:
        return models.Q(account__owner=user)
    if spec.key == "dashboard.favorite":
        return models.Q(user=user)
    return None


def exportable(*, spec: Spec, user: AnyUser) -> QuerySet:
    """Return the rows of `spec` that `user` may export.

    A user with the model's view permission (every superuser) exports every row; an account
    owner their own accounts, cards and reservations; anyone else nothing.
    """
    queryset = spec.model._default_manager.all()
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.has_perm(perm_name(spec, "view")):
        return queryset
    owned = owned_filter(spec, user)
    return queryset.filter(owned) if owned is not None else queryset.none()


def related_names(spec: Spec) -> list[str]:
    related = []
    for name, target in spec.refs.items():
        related.append(f"{name}__owner" if target == "energy.energyaccount" else name)
    if spec.key == "reservations.reservation":
        related.append("connector")
    return related


def _ordering(spec: Spec) -> list[str]:
    return [f"{name}__username" if spec.refs.get(name) == USER else name for name in spec.natural]


def node_name() -> str:
    name = Node.objects.filter(local=True).values_list("name", flat=True).first()
    return name or getattr(settings, "NODE_NAME", "") or socket.gethostname()


def bundle_export(*, user: AnyUser) -> dict[str, Any]:
    """Return the bundle of everything `user` may export (no secrets: see apps.userdata.bundle)."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for spec in SPECS:
        queryset = exportable(spec=spec, user=user).select_related(*related_names(spec))
        objects[spec.key] = [
            row_of(spec, obj).dumped() for obj in queryset.order_by(*_ordering(spec))
        ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_utc(utcnow()),
        "node": node_name(),
        "objects": objects,
    }


HISTORY_LIMIT = 200


def object_changes(obj: models.Model, *, limit: int = HISTORY_LIMIT) -> QuerySet:
    """Return the latest `limit` recorded changes of `obj`, newest first, with their actors.

    Older ones stay in the audit log's own admin (Log entries), filtered by object.
    """
    queryset = LogEntry.objects.get_for_object(obj).select_related("actor")
    return queryset.order_by("-timestamp", "-pk")[:limit]
