"""Which stations an operator may see and act on: the one place sites restrict anything.

The rule (docs/sites.md):

- Django permissions decide WHAT a user may do (view, change, send commands); their sites
  decide WHERE.
- A superuser, or a user holding `chargers.all_sites` ("all sites"), sees every station,
  those without a site included.
- Anybody else sees the stations of the sites they are a member of (`SiteMembership`) and
  nothing else: never a station without a site, so a new operator of site A sees no
  unassigned station that arrives.
- Records that belong to a station (transactions, commands, the message log, ...) follow
  their station: `filter_by_station(queryset, user, path=...)` is how every admin page, API
  view, export and the live feed narrow them. Id tags carry their own optional site.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from apps.chargers.models import ChargingStation, Site

ALL_SITES_PERMISSION = "chargers.all_sites"

M = TypeVar("M", bound=Model)


def sees_all_sites(user: Any) -> bool:
    """Tell whether `user` sees every station: a superuser or a holder of "all sites"."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not user.is_active:
        return False
    return bool(user.is_superuser or user.has_perm(ALL_SITES_PERMISSION))


def sites_of(user: Any) -> QuerySet[Site]:
    """Return the sites `user` acts on: every site for all-sites users, else their own."""
    if sees_all_sites(user):
        return Site.objects.all()
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Site.objects.none()
    return Site.objects.filter(memberships__user=user)


def stations_visible_to(user: Any) -> QuerySet[ChargingStation]:
    """Return the stations `user` may see (see the module's rule)."""
    return filter_by_station(ChargingStation.objects.all(), user, path="")


def station_ids_visible_to(user: Any) -> frozenset[int]:
    """Return the primary keys of the stations `user` may see (one query)."""
    return frozenset(stations_visible_to(user).values_list("pk", flat=True))


def station_visible_to(user: Any, station: ChargingStation | int) -> bool:
    """Tell whether `user` may see `station` (a station or its primary key)."""
    if sees_all_sites(user):
        return True
    pk = station.pk if isinstance(station, ChargingStation) else station
    return stations_visible_to(user).filter(pk=pk).exists()


def _station_condition(user: Any, path: str, by: str) -> Q:
    prefix = f"{path}__" if path else ""
    if not user or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if by == "charger_id":
        # Records that name their station only by its charger id (the message log).
        visible = ChargingStation.objects.filter(site__memberships__user=user)
        return Q(**{f"{path}__in": visible.values("charger_id")})
    return Q(**{f"{prefix}site__memberships__user": user})


def filter_by_station(
    queryset: QuerySet[M], user: Any, *, path: str = "station", by: str = "pk"
) -> QuerySet[M]:
    """Narrow `queryset` to the rows whose station `user` may see.

    `path` leads from the queryset's model to its station ("station",
    "transaction__station"; "" when the model is the station). `by="charger_id"` for a
    model that names its station by a charger id field at `path` instead of a foreign key.
    Rows without a station are left to all-sites users.
    """
    if sees_all_sites(user):
        return queryset
    if by not in ("pk", "charger_id"):
        raise ValueError(f"by must be 'pk' or 'charger_id', not {by!r}")
    return queryset.filter(_station_condition(user, path, by))


def filter_by_site(queryset: QuerySet[M], user: Any, *, path: str = "site") -> QuerySet[M]:
    """Narrow `queryset` to the rows whose site (at `path`) is one of `user`'s sites.

    Rows without a site are left to all-sites users, as stations without one are.
    """
    if sees_all_sites(user):
        return queryset
    if not user or not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    return queryset.filter(**{f"{path}__memberships__user": user})


def station_path_of(model: type[Model]) -> tuple[str, str] | None:
    """Return how `model` reaches its station, as (path, by), or None if it has none.

    The model itself is ("", "pk"); a foreign key to a station ("station", "pk"); one hop
    through a model that has one ("transaction__station", "pk"); a `charger_id` text field
    ("charger_id", "charger_id"). Used to check that every operator page is narrowed.
    """
    if issubclass(model, ChargingStation):
        return "", "pk"
    fields = [f for f in model._meta.get_fields() if f.concrete]
    for field in fields:
        if field.is_relation and field.many_to_one and field.related_model is ChargingStation:
            return field.name, "pk"
    for field in fields:
        if field.name == "charger_id" and not field.is_relation:
            return "charger_id", "charger_id"
    for field in fields:
        related = field.related_model if field.is_relation and field.many_to_one else None
        if related is None or related is model or not isinstance(related, type):
            continue
        for inner in related._meta.get_fields():
            if (
                inner.concrete
                and inner.is_relation
                and inner.many_to_one
                and inner.related_model is ChargingStation
            ):
                return f"{field.name}__{inner.name}", "pk"
    return None
