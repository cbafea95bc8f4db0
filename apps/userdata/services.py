"""Writes: importing a user-data bundle (dry run with a diff, then all or nothing).

Each object of the bundle is matched to this node's by its natural key and gets one action:

- ``create``: no such object here;
- ``unchanged``: the object is here with the same values;
- ``update``: the object is here with other values and the import was asked to overwrite;
- ``conflict``: the object is here with other values and the import was not asked to
  overwrite (or two objects here have that natural key);
- ``error``: a reference to an object neither here nor in the bundle, or an object the
  importing user may not create or change.

Any conflict or error and nothing is written. Otherwise every create and update runs in one
database transaction: all of them, or none when anything fails.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.chargers.models import Connector
from apps.userdata.bundle import (
    BY_KEY,
    SPECS,
    USER,
    BundleError,
    NaturalKey,
    Row,
    Spec,
    bundle_parse,
    natural_key_of,
    row_of,
)
from apps.userdata.selectors import AnyUser, perm_name, related_names

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
CONFLICT = "conflict"
ERROR = "error"
BLOCKING = (CONFLICT, ERROR)
ACTION_LABELS = {
    CREATE: gettext_lazy("create"),
    UPDATE: gettext_lazy("update"),
    UNCHANGED: gettext_lazy("unchanged"),
    CONFLICT: gettext_lazy("conflict"),
    ERROR: gettext_lazy("error"),
}


@dataclass
class PlanItem:
    """What an import does with one object of the bundle."""

    spec: Spec
    row: Row
    action: str
    existing: models.Model | None = None
    # field -> (value here, value in the bundle), as JSON values
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    message: str = ""

    @property
    def model(self) -> str:
        return self.spec.key

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS[self.action])

    @property
    def label(self) -> str:
        return " / ".join("-" if part is None else str(part) for part in self.row.natural_key)


@dataclass
class ImportResult:
    items: list[PlanItem]
    applied: bool

    @property
    def blocked(self) -> bool:
        return any(item.action in BLOCKING for item in self.items)

    @property
    def counts(self) -> Counter:
        return Counter(item.action for item in self.items)


def _lookup_kwargs(spec: Spec, key: NaturalKey) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for name, part in zip(spec.natural, key, strict=True):
        if spec.refs.get(name) == USER:
            if part is None:
                kwargs[f"{name}__isnull"] = True
            else:
                kwargs[f"{name}__username"] = part
        else:
            kwargs[name] = part
    return kwargs


def _existing(spec: Spec, rows: list[Row]) -> dict[NaturalKey, list[models.Model]]:
    """Return this node's objects with the natural keys of `rows`, by natural key."""
    first = spec.natural[0]
    wanted = {row.natural_key[0] for row in rows}
    found: dict[NaturalKey, list[models.Model]] = defaultdict(list)
    if not wanted:
        return found
    queryset = spec.model._default_manager.select_related(*related_names(spec))
    for obj in queryset.filter(**{f"{first}__in": wanted}):
        found[natural_key_of(spec, obj)].append(obj)
    return found


class _References:
    """Answers whether a referenced object is in the bundle or on this node."""

    def __init__(self, rows: dict[str, list[Row]]) -> None:
        self.in_bundle = {key: {row.natural_key for row in found} for key, found in rows.items()}
        self.known: dict[tuple[str, NaturalKey], bool] = {}

    def exists(self, target: str, key: NaturalKey) -> bool:
        if target != USER and key in self.in_bundle[target]:
            return True
        if (target, key) not in self.known:
            if target == USER:
                found = get_user_model()._default_manager.filter(username=key[0]).exists()
            else:
                spec = BY_KEY[target]
                found = spec.model._default_manager.filter(**_lookup_kwargs(spec, key)).exists()
            self.known[(target, key)] = found
        return self.known[(target, key)]


def _allowed(user: AnyUser, spec: Spec, existing: models.Model | None) -> bool:
    """Whether `user` may create (or change) this kind of object: its add (change) permission.

    An account owner holds no such permission on their own account or cards on purpose: an
    import would otherwise let them raise their credit limit or unblock a card an operator
    blocked. Their bundle is imported by an operator.
    """
    action = "add" if existing is None else "change"
    return user.is_active and user.has_perm(perm_name(spec, action))


def import_plan(
    *, user: AnyUser, rows: dict[str, list[Row]], overwrite: bool = False
) -> list[PlanItem]:
    """Return what importing `rows` would do, object by object, without writing anything."""
    references = _References(rows)
    items: list[PlanItem] = []
    for spec in SPECS:
        existing = _existing(spec, rows[spec.key])
        for row in rows[spec.key]:
            items.append(
                _plan_row(user, spec, row, existing.get(row.natural_key, []), overwrite, references)
            )
    return items


def _plan_row(
    user: AnyUser,
    spec: Spec,
    row: Row,
    matches: list[models.Model],
    overwrite: bool,
    references: _References,
) -> PlanItem:
    if len(matches) > 1:
        return PlanItem(spec, row, CONFLICT, message=_("Several objects here have this key."))
    current = matches[0] if matches else None
    missing = [
        name
        for name, target in spec.refs.items()
        if row.refs[name] is not None and not references.exists(target, row.refs[name])
    ]
    if missing:
        return PlanItem(
            spec,
            row,
            ERROR,
            current,
            message=_("Refers to objects neither on this node nor in the file: %s.")
            % ", ".join(missing),
        )
    if current is None:
        if not _allowed(user, spec, None):
            return PlanItem(spec, row, ERROR, message=_("You may not create this object."))
        return PlanItem(spec, row, CREATE)
    ours = row_of(spec, current).dumped()
    theirs = row.dumped()
    changes = {name: (ours[name], theirs[name]) for name in theirs if ours[name] != theirs[name]}
    if not changes:
        return PlanItem(spec, row, UNCHANGED, current)
    if not overwrite:
        return PlanItem(
            spec,
            row,
            CONFLICT,
            current,
            changes,
            _("Exists here with other values; import with overwrite to replace them."),
        )
    if not _allowed(user, spec, current):
        return PlanItem(spec, row, ERROR, current, changes, _("You may not change this object."))
    return PlanItem(spec, row, UPDATE, current, changes)


def userdata_import(
    *, user: AnyUser, data: Any, overwrite: bool = False, dry_run: bool = False
) -> ImportResult:
    """Import a decoded bundle for `user`: all of it, or nothing when anything is in the way.

    With `dry_run` (or when the plan has a conflict or an error) nothing is written and the
    result lists what would happen. Raises BundleError for a file that is not a valid bundle.
    """
    rows = bundle_parse(data)
    if dry_run:
        return ImportResult(import_plan(user=user, rows=rows, overwrite=overwrite), applied=False)
    try:
        with transaction.atomic():
            items = import_plan(user=user, rows=rows, overwrite=overwrite)
            result = ImportResult(items, applied=False)
            if result.blocked:
                return result
            _apply(items)
    except (IntegrityError, ValidationError) as error:
        raise BundleError(
            [_("The database refused the import; nothing was written: %s") % error]
        ) from error
    result.applied = True
    return result


def _apply(items: list[PlanItem]) -> None:
    """Create and update the planned objects; runs inside the import's transaction."""
    done: dict[str, dict[NaturalKey, models.Model]] = defaultdict(dict)
    later: list[tuple[models.Model, str, NaturalKey | None]] = []
    for item in items:
        spec, row = item.spec, item.row
        if item.action == UNCHANGED:
            done[spec.key][row.natural_key] = item.existing  # type: ignore[assignment]
            continue
        obj = item.existing if item.existing is not None else spec.model()
        for name in spec.fields:
            if name != "connector":
                setattr(obj, name, row.values[name])
        for name, target in spec.refs.items():
            if target == spec.key:
                continue  # set below, once every object of the kind exists
            setattr(obj, name, _resolve(target, row.refs[name], done))
        if spec.key == "reservations.reservation":
            obj.connector = _connector(obj.station, row.values["connector"])  # type: ignore[attr-defined]
        if item.existing is None:
            obj.save()
        else:
            obj.save(update_fields=[n for n in spec.columns if spec.refs.get(n) != spec.key])
        done[spec.key][row.natural_key] = obj
        for name, target in spec.refs.items():
            if target == spec.key:
                later.append((obj, name, row.refs[name]))
    for obj, name, key in later:
        target = obj._meta.label_lower
        related = _resolve(target, key, done)
        if getattr(obj, f"{name}_id") != (related.pk if related is not None else None):
            setattr(obj, name, related)
            obj.save(update_fields=[name])


def _resolve(
    target: str, key: NaturalKey | None, done: dict[str, dict[NaturalKey, models.Model]]
) -> models.Model | None:
    if key is None:
        return None
    if target == USER:
        return get_user_model()._default_manager.get(username=key[0])
    if key in done[target]:
        return done[target][key]
    spec = BY_KEY[target]
    return spec.model._default_manager.get(**_lookup_kwargs(spec, key))


def _connector(station: models.Model, number: int | None) -> Connector | None:
    if number is None:
        return None
    connector, _created = Connector.objects.get_or_create(station=station, connector_id=number)
    return connector
