"""Admin and API building blocks that narrow an interface to the user's sites.

They only apply `apps.chargers.tenancy`: an admin page or API view says where its model's
station is (`station_path`, or `site_path` for a model with a site of its own) and the mixin
filters its queryset, its station and site pickers and its detail pages (a row outside the
user's sites is not found: 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest
from rest_framework.exceptions import NotFound

from apps.chargers.models import ChargingStation, Site
from apps.chargers.tenancy import (
    filter_by_site,
    filter_by_station,
    sees_all_sites,
    sites_of,
    station_visible_to,
    stations_visible_to,
)

# List filters on a station or site foreign key, narrowed to the rows shown (get_list_filter).
_NAMED_FILTERS = frozenset({"station", "site"})


def scope_queryset(
    queryset: QuerySet,
    user: Any,
    *,
    station_path: str | None,
    station_by: str = "pk",
    site_path: str | None = None,
) -> QuerySet:
    """Narrow `queryset` by its station path or, failing one, by its own site path."""
    if station_path is not None:
        return filter_by_station(queryset, user, path=station_path, by=station_by)
    if site_path is not None:
        return filter_by_site(queryset, user, path=site_path)
    return queryset


def limit_choices(db_field: ForeignKey, user: Any, kwargs: dict[str, Any]) -> None:
    """Limit a station or site picker (select, raw id, autocomplete) to what `user` sees."""
    if db_field.related_model is ChargingStation:
        kwargs["queryset"] = stations_visible_to(user)
    elif db_field.related_model is Site:
        kwargs["queryset"] = sites_of(user)
        if not sees_all_sites(user):
            # Saved without a site, the row would leave its own operator's sight.
            kwargs["required"] = True


def limit_form_choices(form: Any, user: Any) -> None:
    """Narrow every station or site choice of a plain form (a command's add form) to `user`'s."""
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if queryset is None:
            continue
        if queryset.model is ChargingStation:
            field.queryset = filter_by_station(queryset, user, path="")
        elif queryset.model is Site:
            field.queryset = queryset & sites_of(user)


class SiteScopedAdminMixin:
    """A ModelAdmin (or inline) that shows only the rows of the user's sites.

    `station_path` leads to the model's station ("" when the model is the station), with
    `station_by = "charger_id"` when the model names it by a charger id text field;
    `site_path` for a model with a site of its own (id tags).
    """

    station_path: str | None = "station"
    station_by: str = "pk"
    site_path: str | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_queryset(
            super().get_queryset(request),  # type: ignore[misc]
            request.user,
            station_path=self.station_path,
            station_by=self.station_by,
            site_path=self.site_path,
        )

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any):
        limit_choices(db_field, request.user, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Sequence[Any]:
        # A plain "station" or "site" filter would list every station or site by name: offer
        # only those of the rows this user sees.
        return [
            (name, admin.RelatedOnlyFieldListFilter) if name in _NAMED_FILTERS else name
            for name in super().get_list_filter(request)  # type: ignore[misc]
        ]


class SiteScopedApiMixin:
    """A DRF view whose rows (lists and details) are only those of the user's sites."""

    station_path: str | None = "station"
    station_by: str = "pk"
    site_path: str | None = None

    def get_queryset(self) -> QuerySet:
        return scope_queryset(
            super().get_queryset(),  # type: ignore[misc]
            self.request.user,  # type: ignore[attr-defined]
            station_path=self.station_path,
            station_by=self.station_by,
            site_path=self.site_path,
        )


def require_visible_station(user: Any, station: ChargingStation) -> None:
    """Raise NotFound (404) unless `user` may see `station`: as if it did not exist."""
    if not station_visible_to(user, station):
        raise NotFound(f"No charger with id {station.charger_id!r}.")
