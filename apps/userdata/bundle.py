"""The user-data bundle: which models it carries, their natural keys, and its JSON shape.

A bundle is plain JSON::

    {"format": "constellation-userdata", "version": 1, "exported_at": "...Z", "node": "...",
     "objects": {"chargers.site": [{...}, ...], "chargers.chargingstation": [...], ...}}

Each row holds the listed fields of one object. A reference to another object is that
object's natural key (a station by its charger id, an account by [name, owner's username]),
never a database id, so a bundle means the same on every node. Secrets (station password
hashes, anything encrypted, tokens) are not among the fields, so they are never exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation, Site
from apps.dashboard.models import Favorite
from apps.energy.models import EnergyAccount, Tariff
from apps.energy.pricing import PricingError, parse_bands
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag

FORMAT = "constellation-userdata"
VERSION = 1
USER = "auth.user"  # a reference to a user, by username (users are not in the bundle)


@dataclass(frozen=True)
class Spec:
    """One model of the bundle: its key, natural key, plain fields and references."""

    key: str
    model: type[models.Model]
    natural: tuple[str, ...]
    fields: tuple[str, ...]
    # row field -> key of the referenced spec (or USER); the value is the target's natural key
    refs: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.fields + tuple(self.refs)


# In dependency order: an object's references come before it (an id tag's parent is another
# id tag: those are set after every tag of the bundle exists).
SPECS: tuple[Spec, ...] = (
    Spec("chargers.site", Site, ("name",), ("name", "address", "time_zone")),
    Spec(
        "chargers.chargingstation",
        ChargingStation,
        ("charger_id",),
        (
            "charger_id",
            "name",
            "registration_status",
            "preferred_ocpp_version",
            "free_charging",
            "heartbeat_interval",
            "security_profile",
            "vendor",
            "model",
            "serial_number",
            "charge_box_serial_number",
            "firmware_version",
            "iccid",
            "imsi",
            "meter_type",
            "meter_serial_number",
        ),
        {"site": "chargers.site"},
    ),
    # The balance is the sum of the account's ledger, which stays on its node: not carried.
    Spec(
        "energy.energyaccount",
        EnergyAccount,
        ("name", "owner"),
        (
            "name",
            "organisation",
            "unit",
            "currency",
            "credit_limit",
            "group",
            "status",
            "status_reason",
        ),
        {"owner": USER},
    ),
    Spec(
        "rfid.idtag",
        IdTag,
        ("id_tag",),
        ("id_tag", "token_type", "status", "expiry_date", "in_local_list", "label"),
        {"account": "energy.energyaccount", "parent": "rfid.idtag"},
    ),
    Spec(
        "energy.tariff",
        Tariff,
        ("code", "version"),
        (
            "code",
            "version",
            "name",
            "group",
            "currency",
            "energy_price",
            "time_price",
            "idle_price",
            "idle_grace_minutes",
            "session_fee",
            "vat_percent",
            "bands",
            "valid_from",
        ),
        {"station": "chargers.chargingstation"},
    ),
    # The connector is its number at the station; commands and sessions stay behind.
    Spec(
        "reservations.reservation",
        Reservation,
        ("reservation_id",),
        ("reservation_id", "connector", "id_tag", "parent_id_tag", "expires_at", "status"),
        {"station": "chargers.chargingstation", "account": "energy.energyaccount"},
    ),
    # A user's pinned pages: by address and owner (the label is theirs to change).
    Spec(
        "dashboard.favorite",
        Favorite,
        ("url", "user"),
        ("label", "url", "position"),
        {"user": USER},
    ),
)
BY_KEY: dict[str, Spec] = {spec.key: spec for spec in SPECS}
MAX_ERRORS = 20


class BundleError(ValueError):
    """A file that is not a bundle this node can read; `errors` says why, line by line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


NaturalKey = tuple[Any, ...]


@dataclass
class Row:
    """One validated object of a bundle: plain values (Python) and references (natural keys)."""

    spec: Spec
    values: dict[str, Any]
    refs: dict[str, NaturalKey | None]

    @property
    def natural_key(self) -> NaturalKey:
        return tuple(
            self.refs[name][0] if self.refs.get(name) else self.values.get(name)
            for name in self.spec.natural
        )

    def dumped(self) -> dict[str, Any]:
        """Return the row as JSON values, as an export writes it."""
        out = {name: dump_value(self.spec, name, self.values[name]) for name in self.spec.fields}
        out.update({name: ref_json(key) for name, key in self.refs.items()})
        return out


def ref_json(key: NaturalKey | None) -> Any:
    """Return a natural key as written in a bundle: one value alone, several as a list."""
    if key is None:
        return None
    return key[0] if len(key) == 1 else list(key)


def model_field(spec: Spec, name: str) -> models.Field | None:
    if spec.key == "reservations.reservation" and name == "connector":
        return None  # the connector's number, an integer or null
    return spec.model._meta.get_field(name)


def dump_value(spec: Spec, name: str, value: Any) -> Any:
    """Return a field's Python value as its canonical JSON value (so equal values compare)."""
    if value is None:
        return None
    model_fld = model_field(spec, name)
    if isinstance(model_fld, models.DecimalField):
        return str(Decimal(value).quantize(Decimal(1).scaleb(-model_fld.decimal_places)))
    if isinstance(value, datetime):
        return iso_utc(value)
    return value


def iso_utc(value: datetime) -> str:
    """Return `value` in UTC as ISO 8601 with a Z (microseconds kept: values compare exactly)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def load_value(spec: Spec, name: str, raw: Any) -> Any:
    """Return a JSON value as the field's Python value; ValidationError when it is not one."""
    model_fld = model_field(spec, name)
    if model_fld is None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ValidationError(_("Give a connector number (0 or more) or null."))
        return raw
    if isinstance(model_fld, models.DecimalField | models.IntegerField | models.BooleanField):
        if isinstance(raw, dict | list):
            raise ValidationError(_("Give a single value."))
    elif not isinstance(model_fld, models.JSONField) and isinstance(raw, dict | list):
        raise ValidationError(_("Give a single value."))
    value = model_fld.clean(raw, None)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if spec.key == "energy.tariff" and name == "bands":
        # Checked as the tariff's admin form checks them: pricing reads them later.
        try:
            parse_bands(value)
        except PricingError as error:
            raise ValidationError(str(error)) from error
    return value


def natural_key_of(spec: Spec, obj: models.Model) -> NaturalKey:
    """Return the natural key of a stored object."""
    key = []
    for name in spec.natural:
        if spec.refs.get(name) == USER:
            owner = getattr(obj, name)
            key.append(owner.get_username() if owner is not None else None)
        else:
            key.append(getattr(obj, name))
    return tuple(key)


def row_of(spec: Spec, obj: models.Model) -> Row:
    """Return a stored object as a bundle row."""
    values: dict[str, Any] = {}
    for name in spec.fields:
        if model_field(spec, name) is None:
            connector = obj.connector  # type: ignore[attr-defined]
            values[name] = connector.connector_id if connector is not None else None
        else:
            values[name] = getattr(obj, name)
    refs: dict[str, NaturalKey | None] = {}
    for name, target in spec.refs.items():
        related = getattr(obj, name)
        if related is None:
            refs[name] = None
        elif target == USER:
            refs[name] = (related.get_username(),)
        else:
            refs[name] = natural_key_of(BY_KEY[target], related)
    return Row(spec=spec, values=values, refs=refs)


def _load_ref(target: str, raw: Any) -> NaturalKey | None:
    if raw is None:
        return None
    width = 1 if target == USER else len(BY_KEY[target].natural)
    parts = raw if width > 1 else [raw]
    if not isinstance(parts, list) or len(parts) != width:
        raise ValidationError(_("Give the natural key of the referenced object."))
    if any(isinstance(part, dict | list) for part in parts):
        raise ValidationError(_("Give the natural key of the referenced object."))
    return tuple(parts)


def bundle_decode(raw: bytes) -> Any:
    """Return the JSON of a bundle file; BundleError when it is too large or not JSON."""
    limit = settings.USERDATA_MAX_BUNDLE_BYTES
    if len(raw) > limit:
        raise BundleError([_("The file is larger than %(limit)s bytes.") % {"limit": limit}])
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BundleError([_("The file is not JSON: %s") % error]) from error


def bundle_parse(data: Any) -> dict[str, list[Row]]:
    """Check a decoded bundle and return its rows by model key; BundleError says what is wrong."""
    if not isinstance(data, dict):
        raise BundleError([_("The file is not a user data bundle (a JSON object).")])
    if data.get("format") != FORMAT:
        raise BundleError([_("The file is not a user data bundle (format is not %s).") % FORMAT])
    version = data.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise BundleError(
            [
                _("Bundle version %(got)s is not supported; this node reads version %(ours)s.")
                % {"got": version, "ours": VERSION}
            ]
        )
    objects = data.get("objects")
    if not isinstance(objects, dict):
        raise BundleError([_('The bundle has no "objects" mapping.')])
    errors: list[str] = []
    unknown = sorted(set(objects) - set(BY_KEY))
    if unknown:
        errors.append(_("Unknown kinds of object: %s.") % ", ".join(map(str, unknown)))
    parsed: dict[str, list[Row]] = {}
    for spec in SPECS:
        rows = objects.get(spec.key, [])
        if not isinstance(rows, list):
            errors.append(_("%s: give a list of objects.") % spec.key)
            continue
        parsed[spec.key] = []
        seen: set[NaturalKey] = set()
        for index, raw in enumerate(rows):
            where = f"{spec.key}[{index}]"
            row = _parse_row(spec, raw, where, errors)
            if row is None:
                continue
            if row.natural_key in seen:
                errors.append(_("%(where)s: the same object twice.") % {"where": where})
                continue
            seen.add(row.natural_key)
            parsed[spec.key].append(row)
    if errors:
        raise BundleError(errors[:MAX_ERRORS])
    return parsed


def _parse_row(spec: Spec, raw: Any, where: str, errors: list[str]) -> Row | None:
    if not isinstance(raw, dict):
        errors.append(_("%s: give an object.") % where)
        return None
    missing = [name for name in spec.columns if name not in raw]
    extra = sorted(set(raw) - set(spec.columns))
    if missing or extra:
        if missing:
            errors.append(_("%(where)s: missing %(names)s.") % {"where": where, "names": missing})
        if extra:
            errors.append(_("%(where)s: unknown %(names)s.") % {"where": where, "names": extra})
        return None
    values: dict[str, Any] = {}
    refs: dict[str, NaturalKey | None] = {}
    ok = True
    for name in spec.fields:
        try:
            values[name] = load_value(spec, name, raw[name])
        except ValidationError as error:
            errors.append(f"{where}.{name}: {' '.join(error.messages)}")
            ok = False
    for name, target in spec.refs.items():
        try:
            refs[name] = _load_ref(target, raw[name])
        except ValidationError as error:
            errors.append(f"{where}.{name}: {' '.join(error.messages)}")
            ok = False
    return Row(spec=spec, values=values, refs=refs) if ok else None
