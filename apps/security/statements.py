"""Every hand-written statement of the security app, built once by the statement kit.

Names are quoted with `quoted`; values are always parameters (see apps/core/sqlkit.py).
"""

from __future__ import annotations

from apps.chargers.models import ChargingStation
from apps.core.sqlkit import fetch_one, quoted


def _by_charger_id() -> str:
    return f"{quoted(ChargingStation, 'charger_id')} = %s"


def station_claimed(*, charger_id: str) -> ChargingStation | None:
    """Return the station a connection claims to be, or None: one read, built once.

    Every reconnect of a storm reads this before its credentials are checked.
    """
    return fetch_one(ChargingStation, _by_charger_id, [charger_id])
