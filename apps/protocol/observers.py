"""Listeners told of every completed OCPP exchange (metrics, the test suite's coverage record).

An observer is `observer(exchange)`; it must be quick and must not raise (errors are logged
and ignored). None is registered in production by default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Exchange:
    version: str  # the subprotocol, e.g. "ocpp1.6"
    direction: str  # "in": the charger called us; "out": we called the charger
    action: str
    ok: bool  # answered with a valid CALLRESULT


Observer = Callable[[Exchange], None]
_observers: list[Observer] = []


def add(observer: Observer) -> None:
    _observers.append(observer)


def remove(observer: Observer) -> None:
    _observers.remove(observer)


def notify(exchange: Exchange) -> None:
    for observer in list(_observers):
        try:
            observer(exchange)
        except Exception:
            logger.exception("exchange observer failed")
