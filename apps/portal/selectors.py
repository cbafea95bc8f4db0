"""Reads for the self-service pages: only what belongs to the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from apps.chargers.tenancy import filter_by_station, sees_all_sites
from apps.energy.models import EnergyAccount, EntryKind
from apps.portal.models import Receipt
from apps.reservations.models import Reservation
from apps.rfid.models import IdTag
from apps.transactions.models import Transaction


def owned_accounts(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[EnergyAccount]:
    """Return the accounts `user` owns (none for an anonymous user), by name."""
    if not user.is_authenticated:
        return EnergyAccount.objects.none()
    return EnergyAccount.objects.filter(owner=user).order_by("name", "pk")


def owned_receipts(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Receipt]:
    """Return the receipts of the accounts `user` owns."""
    if not user.is_authenticated:
        return Receipt.objects.none()
    return Receipt.objects.filter(account__owner=user).select_related("account")


def receipts_for_operator(
    queryset: QuerySet[Receipt], *, user: AbstractBaseUser | AnonymousUser
) -> QuerySet[Receipt]:
    """Narrow receipts to those an operator may see: a session's only at one of their stations.

    A charge is written with the reference `tx:<session pk>` (apps/transactions/billing.py);
    top-ups belong to an account, not a site, and stay visible by permission.
    """
    if sees_all_sites(user):
        return queryset
    sessions = filter_by_station(Transaction.objects.all(), user).annotate(
        ref=Concat(Value("tx:"), Cast("pk", output_field=CharField()))
    )
    return queryset.filter(~Q(kind=EntryKind.CHARGE) | Q(reference__in=sessions.values("ref")))


def account_sessions(*, account: EnergyAccount) -> QuerySet[Transaction]:
    """Return the account's charging sessions, newest first."""
    return (
        Transaction.objects.filter(account=account)
        .select_related("station", "connector", "tariff")
        .order_by("-started_at", "-pk")
    )


def account_cards(*, account: EnergyAccount) -> QuerySet[IdTag]:
    return IdTag.objects.filter(account=account).order_by("label", "id_tag")


def account_reservations(*, account: EnergyAccount) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(account=account)
        .select_related("station", "connector")
        .order_by("-expires_at", "-pk")
    )


def session_receipts(*, account: EnergyAccount, sessions: list[Transaction]) -> dict[int, int]:
    """Return {transaction pk: receipt pk} for the sessions that have been charged."""
    references = {f"tx:{tx.pk}": tx.pk for tx in sessions}
    found = Receipt.objects.filter(
        account=account, kind="charge", reference__in=list(references)
    ).values_list("reference", "pk")
    return {references[reference]: pk for reference, pk in found}
