"""Writes of the control center: a user's favorites."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from apps.dashboard.models import Favorite, validate_local_url


def favorite_add(*, user_id: int, url: str, label: str) -> Favorite:
    """Pin `url` for the user, at the end of their favorites; raise ValidationError if unfit."""
    validate_local_url(url)
    with transaction.atomic():
        last = Favorite.objects.filter(user_id=user_id).aggregate(last=Max("position"))["last"]
        return Favorite.objects.create(
            user_id=user_id,
            url=url,
            label=label.strip()[:100] or url[:100],
            position=0 if last is None else last + 1,
        )


def favorite_remove(*, favorite: Favorite) -> None:
    favorite.delete()


def favorite_move(*, favorite: Favorite, offset: int) -> None:
    """Move a favorite `offset` places up (negative) or down among its user's favorites."""
    with transaction.atomic():
        ordered = list(
            Favorite.objects.select_for_update()
            .filter(user_id=favorite.user_id)
            .order_by("position", "id")
        )
        index = next(i for i, item in enumerate(ordered) if item.pk == favorite.pk)
        target = max(0, min(len(ordered) - 1, index + offset))
        ordered.insert(target, ordered.pop(index))
        for position, item in enumerate(ordered):
            if item.position != position:
                item.position = position
                item.save(update_fields=["position"])
