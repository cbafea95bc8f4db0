"""Signals of charging sessions, for apps above this one that act on them.

`transaction_priced` is sent once per session, when `billing.transaction_price` first stores
its cost: synchronously, inside that database transaction, with `transaction_pk` and `cost`
(an `apps.energy.pricing.Cost`). A receiver that calls out (the Odoo app pushes the sale)
defers its work with `transaction.on_commit`.
"""

from __future__ import annotations

from django.dispatch import Signal

transaction_priced = Signal()
