"""Pricing of charging sessions and their charge to the energy account (docs/billing.md).

A session is priced when it stops, off the message path: the stop registers a hook run after
its commit (the station has its answer by then, or gets it without waiting for pricing),
which hands the session to a background thread, or to the Celery queue when a worker runs.
Whatever fails there is retried by the periodic job `transactions_price_pending`: a stop,
once acknowledged, is never lost, and the charge is posted once (the ledger entry's
reference is "tx:<pk>", so a replayed StopTransaction or a second run changes nothing).

Running sessions: `transaction_running_cost` prices the readings so far; the periodic
`transactions_margin_check` stops, once, a session whose account's available balance less
its running cost falls below ENERGY_STOP_MARGIN.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections
from django.db import transaction as db_transaction
from django.utils import timezone

from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand
from apps.energy.driver_texts import price_message, total_message
from apps.energy.models import AccountUnit, EntryKind, Tariff
from apps.energy.pricing import Cost, Prices, PricingError, session_cost
from apps.energy.selectors import account_available, tariff_for_session
from apps.energy.services import ledger_post
from apps.nodes.queue import queue_running
from apps.protocol.versions import V16
from apps.transactions.labels import money
from apps.transactions.models import MeterValue, Transaction
from apps.transactions.operations import cost_updated, remote_stop
from apps.transactions.readings import ENERGY, combine
from apps.transactions.signals import transaction_priced

logger = logging.getLogger(__name__)

# The `source` of the remote stops sent by the margin check: a session is stopped once.
MARGIN_STOP_SOURCE = "balance-margin"
# The `source` of the CostUpdated commands of the same job (ENERGY_COST_UPDATES).
COST_UPDATE_SOURCE = "running-cost"
# How far back the retry job looks for stopped sessions still without a cost.
PRICE_RETRY_WINDOW = timedelta(days=2)
PRICE_RETRY_BATCH = 200
PRICE_TASK = "apps.transactions.tasks.price_transaction"

_executor: ThreadPoolExecutor | None = None


def _energy_samples(tx: Transaction, until: datetime) -> list[tuple[datetime, Decimal]]:
    """Return the session's energy register over time: start meter, readings, stop meter."""
    by_time: dict[datetime, list[tuple[str, float]]] = defaultdict(list)
    rows = MeterValue.objects.filter(
        transaction=tx, measurand=ENERGY, normalized_value__isnull=False, timestamp__lte=until
    ).values_list("timestamp", "phase", "normalized_value")
    for moment, phase, value in rows:
        by_time[moment].append((phase, value))
    samples = []
    if tx.meter_start_wh is not None:
        samples.append((tx.started_at, Decimal(tx.meter_start_wh)))
    for moment in sorted(by_time):
        value = combine(by_time[moment])
        if value is not None and tx.started_at <= moment:
            samples.append((moment, Decimal(str(value))))
    if tx.stopped_at is not None and tx.meter_stop_wh is not None:
        samples.append((tx.stopped_at, Decimal(tx.meter_stop_wh)))
    return samples


def _tariff_of(tx: Transaction) -> Tariff | None:
    if tx.tariff_id is not None:
        return tx.tariff
    group = tx.account.group if tx.account_id is not None else ""
    return tariff_for_session(station_id=tx.station_id, group=group, at=tx.started_at)


def transaction_cost(
    *, transaction: Transaction, tariff: Tariff, at: datetime | None = None
) -> Cost:
    """Price a session with `tariff`: stopped, as it ended; running, up to `at` (now)."""
    end = transaction.stopped_at or at or timezone.now()
    end = max(end, transaction.started_at)
    return session_cost(
        prices=Prices.of(tariff),
        started_at=transaction.started_at,
        stopped_at=end,
        samples=_energy_samples(transaction, end),
        # A running session is not idle yet: the idle fee is known once it stops.
        stopped_drawing_at=None if transaction.stopped_at else end,
        tz=timezone.get_default_timezone(),
    )


def transaction_running_cost(
    *, transaction: Transaction, at: datetime | None = None
) -> Cost | None:
    """Return a session's cost so far (or its final cost once stopped); None: no tariff."""
    tariff = _tariff_of(transaction)
    if tariff is None:
        return None
    return transaction_cost(transaction=transaction, tariff=tariff, at=at)


def running_costs(*, transactions: list[Transaction]) -> dict[int, str]:
    """Return the cost so far of those running sessions that have an account, as text.

    Sessions without an account are left out: a page of many free sessions reads nothing
    more (each priced one reads its tariff and readings).
    """
    costs = {}
    for tx in transactions:
        if tx.account_id is None:
            continue
        try:
            cost = transaction_running_cost(transaction=tx)
        except (PricingError, ArithmeticError):
            continue
        if cost is not None:
            costs[tx.pk] = money(cost.total, cost.currency)
    return costs


def _charge_amount(tx: Transaction, cost: Cost, total: Decimal | None = None) -> Decimal | None:
    """What the session takes from its account, in the account's unit (None: nothing).

    `total`: the cost stored already, charged as stored (late readings change nothing).
    """
    account = tx.account
    if account.unit == AccountUnit.KWH:
        return -(cost.energy_wh / 1000).quantize(Decimal("0.0001"))
    if account.currency.upper() != cost.currency.upper():
        logger.error(
            "tx %s: tariff in %s, account %s in %s; not charged",
            tx.pk,
            cost.currency,
            account.pk,
            account.currency,
        )
        return None
    return -(cost.total if total is None else total)


def transaction_price(*, transaction_pk: int) -> Cost | None:
    """Price a stopped session, store its cost and tariff version, charge its account once.

    Idempotent: a priced session keeps its cost and tariff; the charge's reference
    "tx:<pk>" makes a second post a no-op. Returns the cost, or None (running, no tariff).
    The session row is locked while its cost is written, so two runs cannot both price it.
    """
    with db_transaction.atomic():
        tx = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("tariff", "account")
            .filter(pk=transaction_pk)
            .first()
        )
        if tx is None or tx.stopped_at is None:
            return None
        tariff = _tariff_of(tx)
        if tariff is None:
            return None
        cost = transaction_cost(transaction=tx, tariff=tariff)
        if tx.cost is None or tx.tariff_id is None:
            tx.cost, tx.tariff = cost.total, tariff
            tx.save(update_fields=["cost", "tariff", "updated_at"])
            transaction_priced.send(sender=Transaction, transaction_pk=tx.pk, cost=cost)
        if tx.account_id is not None:
            amount = _charge_amount(tx, cost, tx.cost)
            if amount:
                ledger_post(
                    account=tx.account,
                    kind=EntryKind.CHARGE,
                    amount=amount,
                    reference=f"tx:{tx.pk}",
                    reason=f"{tx.station.charger_id} {tx.transaction_id}",
                    by="billing",
                )
    return cost


def _price_safely(transaction_pk: int) -> None:
    try:
        transaction_price(transaction_pk=transaction_pk)
    except Exception:  # the retry job prices it later: the stop itself is stored
        logger.exception("tx %s: pricing failed; the retry job will price it", transaction_pk)
    finally:
        close_old_connections()


def _enqueue(transaction_pk: int) -> None:
    global _executor
    try:
        if queue_running():
            current_app.send_task(PRICE_TASK, args=[transaction_pk])
            return
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing")
        _executor.submit(_price_safely, transaction_pk)
    except Exception:
        logger.exception("tx %s: pricing not queued; the retry job will price it", transaction_pk)


def transaction_price_after_commit(*, transaction_pk: int) -> None:
    """Price the session once the stop that closed it is committed (off the message path).

    On the message path this costs one hook: the tariff lookup, the readings and the
    ledger run in the billing thread (or a Celery worker).
    """
    db_transaction.on_commit(lambda: _enqueue(transaction_pk))


def transactions_price_pending(*, now: datetime | None = None) -> int:
    """Price sessions stopped recently and still without a cost; return how many got one."""
    now = now or timezone.now()
    pending = Transaction.objects.filter(
        stopped_at__isnull=False, cost__isnull=True, stopped_at__gte=now - PRICE_RETRY_WINDOW
    )
    if not Tariff.objects.exists():  # nothing can be priced: spare the scan
        return 0
    priced = 0
    for pk in pending.values_list("pk", flat=True)[:PRICE_RETRY_BATCH]:
        try:
            if transaction_price(transaction_pk=pk) is not None:
                priced += 1
        except (PricingError, ArithmeticError):
            logger.exception("tx %s: cannot be priced", pk)
    return priced


def transactions_margin_check(*, now: datetime | None = None) -> list[ChargerCommand]:
    """Stop, once, each running session whose account is about to run out; return the stops.

    A session's account runs out when its available balance (balance + credit limit) less
    the session's running cost falls below ENERGY_STOP_MARGIN. Only sessions with an account
    are read; a session already sent a margin stop is not sent another. With
    ENERGY_COST_UPDATES, the other sessions' 2.x stations are sent their running cost
    (CostUpdated) when it changed since the last one sent.
    """
    margin = Decimal(str(getattr(settings, "ENERGY_STOP_MARGIN", 0)))
    running = Transaction.objects.filter(
        stopped_at__isnull=True, account__isnull=False
    ).select_related("account", "station", "tariff")
    sent = []
    for tx in running:
        try:
            cost = transaction_running_cost(transaction=tx, at=now)
        except (PricingError, ArithmeticError):  # a bad tariff: log it, check the others
            logger.exception("tx %s: running cost unknown", tx.pk)
            continue
        if cost is None:
            continue
        charge = _charge_amount(tx, cost)
        if charge is None or account_available(account=tx.account) + charge >= margin:
            if getattr(settings, "ENERGY_COST_UPDATES", False):
                _send_running_cost(tx, cost)
            continue
        already = ChargerCommand.objects.filter(
            station=tx.station,
            source=MARGIN_STOP_SOURCE,
            action__in=["RemoteStopTransaction", "RequestStopTransaction"],
        )
        if any(
            str(payload.get("transactionId")) == tx.transaction_id
            for payload in already.values_list("payload", flat=True)
        ):
            continue
        try:
            sent.append(
                remote_stop(
                    station=tx.station, transaction_id=tx.transaction_id, source=MARGIN_STOP_SOURCE
                )
            )
        except CommandError:
            logger.exception("tx %s: margin stop not sent", tx.pk)
        else:
            logger.info("tx %s: account %s at its margin; stop sent", tx.pk, tx.account_id)
    return sent


def _send_running_cost(tx: Transaction, cost: Cost) -> None:
    """Send a 2.x station the session's running cost (CostUpdated) when it changed."""
    if tx.station.protocol_version is V16:
        return
    last = (
        ChargerCommand.objects.filter(
            station=tx.station,
            source=COST_UPDATE_SOURCE,
            action="CostUpdated",
            payload__transactionId=tx.transaction_id,
        )
        .order_by("-created_at", "-pk")
        .values_list("payload", flat=True)
        .first()
    )
    if last is not None and Decimal(str(last.get("totalCost"))) == cost.total:
        return
    try:
        cost_updated(
            station=tx.station,
            transaction_id=tx.transaction_id,
            total_cost=cost.total,
            source=COST_UPDATE_SOURCE,
        )
    except CommandError:
        logger.exception("tx %s: running cost not sent", tx.pk)


def transaction_event_cost(*, transaction: Transaction, event_type: str) -> dict[str, Any]:
    """Return the cost fields of a 2.x TransactionEventResponse for a session with an account.

    Ended: `totalCost` (the final cost, VAT included; OCPP sends it only once charging has
    ended) and a personal message with it; Started: a personal message with the tariff's
    prices. Messages are in the account's driver language (EnergyAccount.language, else the
    node's). A session without an account costs nothing here (one attribute test): the
    message path of stations without billing is unchanged.
    """
    if transaction.account_id is None or event_type == "Updated":
        return {}
    try:
        tariff = _tariff_of(transaction)
        if tariff is None:
            return {}
        language = transaction.account.driver_language
        if event_type == "Started":
            return {"updatedPersonalMessage": price_message(Prices.of(tariff), language)}
        cost = transaction_cost(transaction=transaction, tariff=tariff)
    except (PricingError, ArithmeticError):
        logger.exception("tx %s: no cost in the answer", transaction.pk)
        return {}
    return {
        "totalCost": float(cost.total),
        "updatedPersonalMessage": total_message(cost.total, cost.currency, language),
    }
