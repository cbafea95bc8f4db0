"""Writes: operator accounts from Odoo users, tariff products, session sales (docs/odoo.md).

Every Odoo read a change needs is done first; the local changes are then written in one
database transaction. A server that fails halfway therefore leaves nothing half-written here:
the sync either applies its whole plan or nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction as db_transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.odoo.client import OdooClient, OdooError
from apps.integrations.odoo.models import (
    GroupMapping,
    OdooInstance,
    OdooUser,
    SaleState,
    SessionSale,
    TariffProduct,
)
from apps.integrations.odoo.selectors import (
    client_for,
    instances_active,
    product_get,
    tariff_product_for,
)
from apps.transactions.billing import transaction_cost
from apps.transactions.models import Transaction

logger = logging.getLogger("apps.integrations.odoo")

XML_ID = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
USER_FIELDS = ["id", "login", "name", "email", "active"]
# Pushes of a sale retried by the periodic job before it is left to an operator.
SALE_MAX_ATTEMPTS = 10
# A push claimed longer ago than this is taken over (its worker died): far longer than the
# calls of one push can take (ODOO_TIMEOUT and retries).
SALE_CLAIM_TIMEOUT = timedelta(minutes=10)


# -- connection ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionReport:
    server_version: str
    uid: int


def instance_connection_test(*, instance: OdooInstance) -> ConnectionReport:
    """Reach the server (`common.version`) and check the credentials (`authenticate`)."""
    client = client_for(instance=instance)
    info = client.version()
    uid = client.authenticate()
    return ConnectionReport(server_version=str(info.get("server_version", "?")), uid=uid)


def instance_set_api_key(*, instance: OdooInstance, api_key: str) -> None:
    """Store the API key encrypted (an empty value forgets it)."""
    instance.set_api_key(api_key)
    instance.save(update_fields=["api_key_encrypted", "updated_at"])


# -- users -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserChange:
    """One line of a sync plan: what happens to one operator account, and why."""

    odoo_uid: int | None
    login: str
    user_id: int | None = None
    changes: tuple[str, ...] = ()
    values: tuple[tuple[str, Any], ...] = ()
    groups: frozenset[int] = frozenset()
    reason: str = ""


@dataclass
class SyncPlan:
    """What a users sync changes (a dry run shows it; a sync applies it)."""

    instance: str
    create: list[UserChange] = field(default_factory=list)
    update: list[UserChange] = field(default_factory=list)
    deactivate: list[UserChange] = field(default_factory=list)
    skipped: list[UserChange] = field(default_factory=list)
    unresolved_groups: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.deactivate)

    def summary(self) -> str:
        return _(
            "%(create)d to create, %(update)d to update, %(deactivate)d to deactivate, "
            "%(skipped)d skipped"
        ) % {
            "create": len(self.create),
            "update": len(self.update),
            "deactivate": len(self.deactivate),
            "skipped": len(self.skipped),
        }


@dataclass(frozen=True)
class _OdooUsers:
    """Everything read from Odoo for a sync: users and the group ids of each mapping."""

    users: list[dict[str, Any]]
    mapping_groups: dict[int, set[int]]  # GroupMapping pk -> Odoo res.groups ids
    unresolved: list[str]
    complete: bool  # every internal user was read (a missing one is deactivated)


def _groups_field(client: OdooClient) -> str:
    info = client.version()
    major = (info.get("server_version_info") or [0])[0]
    # Odoo 19 renamed res.users.groups_id to group_ids.
    return "group_ids" if isinstance(major, int) and major >= 19 else "groups_id"


def _resolve_groups(
    client: OdooClient, mappings: list[GroupMapping]
) -> tuple[dict[int, set[int]], list[str]]:
    by_xml = [m for m in mappings if XML_ID.match(m.odoo_group.strip())]
    by_name = [m for m in mappings if m not in by_xml]
    resolved: dict[int, set[int]] = {m.pk: set() for m in mappings}
    if by_xml:
        modules = sorted({m.odoo_group.strip().split(".")[0] for m in by_xml})
        names = sorted({m.odoo_group.strip().split(".")[1] for m in by_xml})
        rows = client.search_read(
            "ir.model.data",
            [["model", "=", "res.groups"], ["module", "in", modules], ["name", "in", names]],
            fields=["module", "name", "res_id"],
        )
        ids = {f"{row['module']}.{row['name']}": row["res_id"] for row in rows}
        for m in by_xml:
            if m.odoo_group.strip() in ids:
                resolved[m.pk].add(int(ids[m.odoo_group.strip()]))
    if by_name:
        rows = client.search_read("res.groups", [], fields=["name", "full_name"])
        for m in by_name:
            wanted = m.odoo_group.strip()
            resolved[m.pk] |= {
                int(row["id"]) for row in rows if wanted in (row.get("name"), row.get("full_name"))
            }
    unresolved = sorted({m.odoo_group for m in mappings if not resolved[m.pk]})
    return resolved, unresolved


def _read_odoo(
    *, instance: OdooInstance, client: OdooClient, login: str | None = None
) -> _OdooUsers:
    """Read the internal users (or the one with `login`) and resolve the mapped groups."""
    mappings = list(instance.group_mappings.all())
    groups_field = _groups_field(client)
    mapping_groups, unresolved = _resolve_groups(client, mappings)
    domain: list[Any] = [["share", "=", False]]
    if login is not None:
        domain.append(["login", "=", login])
    users = client.search_read(
        "res.users",
        domain,
        fields=[*USER_FIELDS, groups_field],
        context={"active_test": False},
    )
    for user in users:
        user["groups"] = set(user.get(groups_field) or [])
    return _OdooUsers(users, mapping_groups, unresolved, complete=login is None)


def _split_name(name: str) -> tuple[str, str]:
    first, _sep, last = name.strip().partition(" ")
    return first[:150], last[:150]


def _text(value: Any) -> str:
    return "" if value in (False, None) else str(value)


def _plan(*, instance: OdooInstance, odoo: _OdooUsers) -> SyncPlan:
    """Compare what Odoo says with the local accounts; change nothing."""
    User = get_user_model()
    plan = SyncPlan(instance=instance.name, unresolved_groups=odoo.unresolved)
    mappings = list(instance.group_mappings.select_related("django_group"))
    managed = {m.django_group_id for m in mappings}
    # Read up front, a few queries whatever the number of users.
    links = {
        link.odoo_uid: link
        for link in instance.users.select_related("user").prefetch_related("user__groups")
    }
    logins = [_text(row.get("login")).strip() for row in odoo.users]
    by_login = {
        user.username: user
        for user in User.objects.filter(username__in=logins).prefetch_related("groups")
    }
    elsewhere = dict(
        OdooUser.objects.filter(user__username__in=logins)
        .exclude(instance=instance)
        .values_list("user_id", "instance__name")
    )
    seen: set[int] = set()
    for row in odoo.users:
        uid, login = int(row["id"]), _text(row.get("login")).strip()
        seen.add(uid)
        wanted = [m for m in mappings if odoo.mapping_groups.get(m.pk, set()) & row["groups"]]
        active = bool(row.get("active")) and bool(wanted)
        link = links.get(uid)
        user = link.user if link else by_login.get(login)
        if not login or len(login) > 150:
            plan.skipped.append(UserChange(uid, login, reason=_("login empty or too long")))
            continue
        if login == instance.username:
            continue  # the API user the calls run as: a machine, not an operator
        if user is not None and user.is_superuser:
            plan.skipped.append(
                UserChange(uid, login, user.pk, reason=_("a superuser is never managed by Odoo"))
            )
            continue
        if user is not None and link is None:
            if user.pk in elsewhere:
                plan.skipped.append(
                    UserChange(
                        uid,
                        login,
                        user.pk,
                        reason=_("managed by Odoo instance %(name)s")
                        % {"name": elsewhere[user.pk]},
                    )
                )
                continue
            if not active:
                continue  # a local account that Odoo does not make an operator: not ours
        if user is None and not active:
            continue
        first, last = _split_name(_text(row.get("name")))
        values: dict[str, Any] = {
            "username": login,
            "first_name": first,
            "last_name": last,
            "email": _text(row.get("email"))[:254],
            "is_active": active,
            "is_staff": active and any(m.staff for m in wanted),
        }
        groups = frozenset(m.django_group_id for m in wanted) if active else frozenset()
        if user is None:
            plan.create.append(
                UserChange(uid, login, None, (), tuple(values.items()), groups, _("new operator"))
            )
            continue
        taken = by_login.get(login)
        if user.username != login and taken is not None and taken.pk != user.pk:
            plan.skipped.append(
                UserChange(uid, login, user.pk, reason=_("another account has this login"))
            )
            continue
        current_groups = {group.pk for group in user.groups.all() if group.pk in managed}
        changes = [
            f"{name}: {getattr(user, name)!r} → {value!r}"
            for name, value in values.items()
            if getattr(user, name) != value
        ]
        if current_groups != set(groups):
            changes.append(_("groups changed"))
        if link is None:
            changes.append(_("linked to Odoo user %(uid)s") % {"uid": uid})
        if not changes:
            continue
        change = UserChange(uid, login, user.pk, tuple(changes), tuple(values.items()), groups)
        if user.is_active and not active:
            plan.deactivate.append(change)
        else:
            plan.update.append(change)
    if odoo.complete:
        for uid, link in links.items():
            if uid not in seen and link.user.is_active and not link.user.is_superuser:
                plan.deactivate.append(
                    UserChange(
                        uid,
                        link.user.username,
                        link.user.pk,
                        (_("no longer an internal user in Odoo"),),
                        (("is_active", False), ("is_staff", False)),
                        frozenset(),
                    )
                )
    return plan


def _apply(*, instance: OdooInstance, plan: SyncPlan) -> None:
    User = get_user_model()
    managed = set(instance.group_mappings.values_list("django_group_id", flat=True))
    for change in plan.create:
        user = User(**dict(change.values))
        user.set_unusable_password()  # operators sign in through Odoo (OdooBackend)
        user.save()
        user.groups.set(change.groups)
        OdooUser.objects.create(user=user, instance=instance, odoo_uid=change.odoo_uid)
    for change in [*plan.update, *plan.deactivate]:
        user = User.objects.select_for_update().get(pk=change.user_id)
        values = dict(change.values)
        for name, value in values.items():
            setattr(user, name, value)
        user.save(update_fields=list(values))
        if "username" in values:  # a whole row from Odoo: managed groups follow it
            keep = set(user.groups.exclude(pk__in=managed).values_list("pk", flat=True))
            user.groups.set(keep | set(change.groups))
        if change.odoo_uid is not None:
            OdooUser.objects.update_or_create(
                user=user, defaults={"instance": instance, "odoo_uid": change.odoo_uid}
            )
    plan.applied = True


def users_sync(
    *, instance: OdooInstance, dry_run: bool = False, client: OdooClient | None = None
) -> SyncPlan:
    """Bring operator accounts in step with Odoo's internal users; return the plan.

    All of Odoo is read before anything is written; the plan is then made and applied in one
    transaction holding the instance's row lock (or only returned, with `dry_run`). An
    OdooError leaves the accounts as they were; the instance records the failure.
    """
    try:
        if not instance.group_mappings.exists():
            raise OdooError(
                _("Odoo instance %(name)s has no group mappings: nobody would be an operator.")
                % {"name": instance.name},
                permanent=True,
            )
        client = client or client_for(instance=instance)
        odoo = _read_odoo(instance=instance, client=client)
        if odoo.unresolved and not dry_run:
            # Members of a group we cannot find would all be deactivated: stop instead.
            raise OdooError(
                _("Odoo groups not found: %(groups)s. Fix the group mappings; nothing changed.")
                % {"groups": ", ".join(odoo.unresolved)},
                permanent=True,
            )
    except OdooError as exc:
        if not dry_run:
            _record(instance, _("failed: %(error)s") % {"error": exc})
        raise
    with db_transaction.atomic():
        if not dry_run:
            _lock(instance)
        plan = _plan(instance=instance, odoo=odoo)
        if dry_run:
            return plan
        _apply(instance=instance, plan=plan)
        _record(instance, plan.summary())
    logger.info("odoo %s: users synchronised: %s", instance.name, plan.summary())
    return plan


def _lock(instance: OdooInstance) -> None:
    # Two syncs of one instance (the beat's, an operator's, a sign-in) plan and apply one
    # after the other: the second plans against what the first wrote.
    OdooInstance.objects.select_for_update().filter(pk=instance.pk).first()


def _record(instance: OdooInstance, result: str) -> None:
    instance.last_sync_at = timezone.now()
    instance.last_sync_result = result[:300]
    instance.save(update_fields=["last_sync_at", "last_sync_result", "updated_at"])


def users_sync_all() -> dict[str, str]:
    """Sync every enabled instance that has `sync_users` on; return each one's outcome."""
    outcome = {}
    for instance in instances_active(sync_users=True):
        try:
            outcome[instance.name] = users_sync(instance=instance).summary()
        except OdooError as exc:
            logger.warning("odoo %s: users sync failed: %s", instance.name, exc)
            outcome[instance.name] = str(exc)
    return outcome


def user_authenticate(*, instance: OdooInstance, login: str, password: str) -> AbstractUser | None:
    """Check `login` / `password` against Odoo; create or update the operator; return it.

    None when Odoo refuses them, cannot be reached, or does not make this user an operator
    (no mapped group), and for a local superuser (never taken over by Odoo).
    """
    # Someone waits at the sign-in page: one try each, no backoff (the sync retries).
    probe = OdooClient(
        url=instance.url, database=instance.database, login=login, secret=password, retries=0
    )
    try:
        uid = probe.authenticate()
        service = client_for(instance=instance, retries=0)
        odoo = _read_odoo(instance=instance, client=service, login=login)
    except OdooError as exc:
        level = logging.INFO if exc.permanent else logging.WARNING
        logger.log(level, "odoo %s: login of %s refused: %s", instance.name, login, exc)
        return None
    odoo.users[:] = [row for row in odoo.users if int(row["id"]) == uid]
    with db_transaction.atomic():
        _lock(instance)
        plan = _plan(instance=instance, odoo=odoo)
        _apply(instance=instance, plan=plan)
    link = OdooUser.objects.filter(instance=instance, odoo_uid=uid).select_related("user").first()
    if link is None or not link.user.is_active:
        return None
    return link.user


# -- products and sales ----------------------------------------------------------------------
def tariff_product_link(
    *, instance: OdooInstance, tariff_code: str, product_id: int, client: OdooClient | None = None
) -> TariffProduct:
    """Sell the sessions of tariff `tariff_code` as Odoo product `product_id` (checked there)."""
    product = product_get(instance=instance, product_id=product_id, client=client)
    if product is None:
        raise OdooError(
            _("Odoo has no product with id %(id)s.") % {"id": product_id}, permanent=True
        )
    link, _created = TariffProduct.objects.update_or_create(
        instance=instance,
        tariff_code=tariff_code,
        defaults={
            "product_id": product.id,
            "product_name": product.name[:200],
            "product_code": product.code[:100],
        },
    )
    return link


def _sale_values(sale: SessionSale, tx: Transaction, product_id: int) -> dict[str, Any]:
    cost = transaction_cost(transaction=tx, tariff=tx.tariff)
    kwh = (cost.energy_wh / 1000).quantize(Decimal("0.001"))
    # One line: the session's energy at the net price per kWh (Odoo adds the product's
    # taxes). A session that drew nothing is one unit at its net cost (time, fees).
    qty, unit = (kwh, cost.net_shown / kwh) if kwh > 0 else (Decimal(1), cost.net_shown)
    description = (
        f"{tx.station.charger_id} {tx.transaction_id}: {kwh} kWh, "
        f"{cost.net_shown} {cost.currency} + VAT {cost.vat_shown} = {cost.total}"
    )
    return {
        "partner_id": sale.instance.sale_partner_id,
        "client_order_ref": sale.reference,
        "origin": f"{tx.station.charger_id} {tx.transaction_id}"[:200],
        "order_line": [
            [
                0,
                0,
                {
                    "product_id": product_id,
                    "name": description,
                    "product_uom_qty": float(qty),
                    "price_unit": float(unit.quantize(Decimal("0.000001"))),
                },
            ]
        ],
    }


def _sale_claim(sale: SessionSale) -> bool:
    """Mark the sale as being pushed by us; False if it is pushed or another push holds it.

    One conditional UPDATE, so two workers (the task after pricing, the retry job, an
    operator) never both create its order. A claim older than SALE_CLAIM_TIMEOUT (a worker
    that died) is taken over.
    """
    now = timezone.now()
    claimable = Q(state__in=[SaleState.PENDING, SaleState.FAILED]) | Q(
        state=SaleState.PUSHING, claimed_at__lt=now - SALE_CLAIM_TIMEOUT
    )
    claimed = SessionSale.objects.filter(claimable, pk=sale.pk).update(
        state=SaleState.PUSHING, claimed_at=now, attempts=F("attempts") + 1
    )
    sale.refresh_from_db()
    return bool(claimed)


def session_sale_push(
    *, transaction_pk: int, instance: OdooInstance | None = None, client: OdooClient | None = None
) -> SessionSale | None:
    """Record a priced session as a sale order in Odoo, once; return its sale row.

    None when no instance pushes sales or the session is not priced. Idempotent: a session
    pushed already is not pushed again, and an order Odoo holds already for it (created,
    but its answer lost) is found by its reference and adopted.
    """
    instance = instance or instances_active(push_sales=True).first()
    if instance is None:
        return None
    tx = (
        Transaction.objects.select_related("tariff", "station")
        .filter(pk=transaction_pk, stopped_at__isnull=False, cost__isnull=False)
        .first()
    )
    if tx is None or tx.tariff is None:
        return None
    sale, _created = SessionSale.objects.get_or_create(instance=instance, transaction=tx)
    if not _sale_claim(sale):
        return sale  # pushed already, or being pushed by another worker
    link = tariff_product_for(instance=instance, tariff_code=tx.tariff.code)
    product_id = link.product_id if link else instance.default_product_id
    try:
        if not product_id:
            raise OdooError(
                _("No Odoo product for tariff %(code)s and no default product.")
                % {"code": tx.tariff.code},
                permanent=True,
            )
        if not instance.sale_partner_id:
            raise OdooError(_("No sale customer (partner id) is set."), permanent=True)
        client = client or client_for(instance=instance)
        found = client.search_read(
            "sale.order", [["client_order_ref", "=", sale.reference]], fields=["id"], limit=1
        )
        if found:
            order_id = int(found[0]["id"])
        else:
            order_id = client.create("sale.order", _sale_values(sale, tx, product_id))
    except OdooError as exc:
        sale.state = SaleState.FAILED if exc.permanent else SaleState.PENDING
        sale.error = str(exc)[:300]
        sale.product_id = product_id
        sale.save(update_fields=["state", "error", "product_id"])
        logger.warning("odoo %s: tx %s not pushed: %s", instance.name, tx.pk, exc)
        return sale
    sale.state, sale.order_id, sale.product_id = SaleState.PUSHED, order_id, product_id
    sale.error, sale.pushed_at = "", timezone.now()
    sale.save(update_fields=["state", "order_id", "product_id", "error", "pushed_at"])
    logger.info("odoo %s: tx %s pushed as sale.order %s", instance.name, tx.pk, order_id)
    return sale


def session_sales_push_pending() -> int:
    """Push again the sales still pending (Odoo was unreachable); return how many went."""
    pushed = 0
    for instance in instances_active(push_sales=True):
        stale = timezone.now() - SALE_CLAIM_TIMEOUT
        pending = SessionSale.objects.filter(
            Q(state=SaleState.PENDING) | Q(state=SaleState.PUSHING, claimed_at__lt=stale),
            instance=instance,
            attempts__lt=SALE_MAX_ATTEMPTS,
        ).values_list("transaction_id", flat=True)
        for pk in list(pending[:200]):
            sale = session_sale_push(transaction_pk=pk, instance=instance)
            pushed += bool(sale and sale.state == SaleState.PUSHED)
    return pushed
