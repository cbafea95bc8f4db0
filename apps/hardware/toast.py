"""GUI toasts: desktop notifications of the events an operator at this node should see.

`ToastService` (feature `gui-toast`) listens to this process's live events
(`apps.core.live.subscribe`) and shows, through `notify-send` (libnotify), a toast for:

- a connector (or a whole station) reporting Faulted: urgency critical;
- a session started or stopped (station, connector, card; the energy when known);
- a card refused by this node's reader (a `CardScanned` whose result is not Accepted);
- a security event: urgency critical.

At most TOAST_PER_MINUTE toasts are shown in any minute; the events held back are told in
one "…and K more" toast as soon as the minute allows another. Where there is no desktop
session (neither DISPLAY nor WAYLAND_DISPLAY) or no notify-send, nothing runs: the feature
is not detected, and a service switched on anyway shows nothing.

Why notify-send and not a Python library: it needs nothing in our process (no D-Bus binding,
no event loop), it is the desktop's own client (libnotify-bin on Debian and Raspberry Pi OS),
and its command line is tested with a recording stand-in on PATH.
"""

from __future__ import annotations

import html
import logging
import os
import queue
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error
from django.db import close_old_connections
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.chargers.models import ChargingStation
from apps.core.events import (
    CardScanned,
    ConnectorStatusChanged,
    LiveEvent,
    SecurityEventRecorded,
    TransactionEventRecorded,
    TransactionStarted,
    TransactionStopped,
)
from apps.core.live import subscribe, unsubscribe
from apps.core.timeutil import utcnow
from apps.hardware.services import Context
from apps.nodes.features import GUI_TOAST
from apps.transactions.models import Transaction

logger = logging.getLogger(__name__)

APP_NAME = "Constellation"
NORMAL = "normal"
CRITICAL = "critical"
# Seconds notify-send may take (a hung session bus must not hold the service).
SEND_TIMEOUT_S = 10.0
# A 2.x session first heard of later than this after its start is not announced as started
# (the service was restarted while it ran).
STARTED_RECENTLY = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Toast:
    title: str
    body: str
    urgency: str = NORMAL


def desktop_session() -> bool:
    """Tell whether this process may reach a desktop (an X or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def notify_command(toast: Toast, *, program: str = "notify-send") -> list[str]:
    """Return the notify-send command line for `toast` (an argument list, never a shell)."""
    return [
        program,
        f"--app-name={APP_NAME}",
        f"--urgency={toast.urgency}",
        # "--" ends the options: a title or body starting with "-" stays text.
        "--",
        toast.title,
        # Notification servers read the body as markup: a charger's id is shown, not obeyed.
        html.escape(toast.body, quote=False),
    ]


def toast_send(toast: Toast) -> bool:
    """Show `toast` on the desktop; False (and nothing run) without a desktop. Never raises."""
    if not desktop_session():
        return False
    program = shutil.which("notify-send")
    if program is None:
        logger.debug("toast not shown: notify-send not found")
        return False
    try:
        result = subprocess.run(
            notify_command(toast, program=program),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=SEND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("toast not shown: %s", exc)
        return False
    if result.returncode != 0:
        logger.warning(
            "toast not shown: notify-send exited %d: %s",
            result.returncode,
            result.stderr.decode(errors="replace").strip()[:200],
        )
        return False
    return True


class ToastLimiter:
    """At most `per_minute` toasts in any 60 s; counts the ones held back for a summary."""

    WINDOW_S = 60.0

    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = max(1, per_minute)
        self.clock = clock
        self.shown: deque[float] = deque()
        self.held = 0
        self.held_critical = False

    def _room(self) -> bool:
        now = self.clock()
        while self.shown and now - self.shown[0] >= self.WINDOW_S:
            self.shown.popleft()
        return len(self.shown) < self.per_minute

    def admit(self, toast: Toast) -> bool:
        """Take `toast` if the minute has room (counted as shown); else hold it back."""
        if self._room() and not self.held:
            self.shown.append(self.clock())
            return True
        self.held += 1
        self.held_critical = self.held_critical or toast.urgency == CRITICAL
        return False

    def summary(self) -> Toast | None:
        """Return the "…and K more" toast once the minute has room for it (counted as shown)."""
        if not self.held or not self._room():
            return None
        count, critical = self.held, self.held_critical
        self.held, self.held_critical = 0, False
        self.shown.append(self.clock())
        return Toast(
            APP_NAME,
            ngettext("…and %(count)d more event", "…and %(count)d more events", count)
            % {"count": count},
            CRITICAL if critical else NORMAL,
        )


def _station_name(pk: int | None) -> str:
    if pk is None:
        return "?"
    row = ChargingStation.objects.filter(pk=pk).values_list("name", "charger_id").first()
    if row is None:
        return f"#{pk}"
    return row[0] or row[1]


def _kwh(wh: float) -> str:
    return formats.number_format(wh / 1000, 2)


def _session_stopped(station: str, energy_wh: float | None, reason: str) -> Toast:
    if energy_wh is None:
        body = _("%(station)s (%(reason)s)") % {"station": station, "reason": reason or "-"}
    else:
        body = _("%(station)s: %(energy)s kWh (%(reason)s)") % {
            "station": station,
            "energy": _kwh(energy_wh),
            "reason": reason or "-",
        }
    return Toast(_("Session stopped"), body)


def _session_started(station: str, connector: int | None, tag: str) -> Toast:
    return Toast(
        _("Session started"),
        _("%(station)s connector %(connector)s, card %(tag)s")
        % {"station": station, "connector": connector or "-", "tag": tag or "-"},
    )


def wanted(event: LiveEvent) -> bool:
    """Tell whether `event` may become a toast (the listener's quick filter)."""
    if isinstance(event, ConnectorStatusChanged):
        return event.status == "Faulted"
    if isinstance(event, CardScanned):
        return event.result != "Accepted"
    return isinstance(
        event,
        TransactionStarted | TransactionStopped | TransactionEventRecorded | SecurityEventRecorded,
    )


def check_toast_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report a rate limit that would show no toast at all (`manage.py check`)."""
    if settings.TOAST_PER_MINUTE >= 1:
        return []
    return [
        Error(
            f"TOAST_PER_MINUTE is {settings.TOAST_PER_MINUTE}.",
            hint="Allow 1 or more toasts a minute; switch the gui-toast feature off instead.",
            id="hardware.E111",
        )
    ]


class ToastService:
    """The managed toast service: events in, rate-limited desktop notifications out."""

    name = "toast"
    feature = GUI_TOAST

    def __init__(
        self,
        *,
        per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 1.0,
    ) -> None:
        self.limiter = ToastLimiter(
            per_minute=settings.TOAST_PER_MINUTE if per_minute is None else per_minute,
            clock=clock,
        )
        self.poll_seconds = poll_seconds
        self.inbox: queue.Queue[LiveEvent] = queue.Queue(maxsize=500)
        # Events taken from the inbox (tests wait on it), and toasts shown.
        self.handled = 0
        self.shown = 0
        self._sessions: set[int] = set()  # 2.x sessions announced as started

    def heard(self, event: LiveEvent) -> None:
        """Queue an event worth a toast (a live-event listener: quick, never blocks)."""
        if wanted(event):
            try:
                self.inbox.put_nowait(event)
            except queue.Full:
                logger.debug("toast inbox full: %s dropped", type(event).__name__)

    def toast_for(self, event: LiveEvent) -> Toast | None:
        """Return the toast `event` makes, in the node's language, or None."""
        if isinstance(event, ConnectorStatusChanged):
            station = _station_name(event.station)
            error = event.error_code or "-"
            if event.connector:
                body = _("%(station)s connector %(connector)s: %(error)s") % {
                    "station": station,
                    "connector": event.connector,
                    "error": error,
                }
            else:
                body = _("%(station)s: %(error)s") % {"station": station, "error": error}
            return Toast(_("Charger faulted"), body, CRITICAL)
        if isinstance(event, TransactionStarted):
            return _session_started(_station_name(event.station), event.connector, event.id_tag)
        if isinstance(event, TransactionStopped):
            tx = Transaction.objects.filter(pk=event.transaction).only("meter_start_wh").first()
            energy = None
            if tx is not None and tx.meter_start_wh is not None:
                energy = float(event.meter_stop_wh - tx.meter_start_wh)
            return _session_stopped(_station_name(event.station), energy, event.reason)
        if isinstance(event, TransactionEventRecorded):
            return self._transaction_event(event)
        if isinstance(event, CardScanned):
            body = _("Card %(uid)s: %(result)s") % {"uid": event.uid, "result": event.result}
            if event.detail:
                body = f"{body} ({event.detail})"
            return Toast(_("Card refused"), body)
        if isinstance(event, SecurityEventRecorded):
            station = event.charger_id or _station_name(event.station)
            body = f"{station}: {event.event_type}"
            if event.tech_info:
                body = f"{body} ({event.tech_info[:100]})"
            return Toast(_("Security event"), body, CRITICAL)
        return None

    def _transaction_event(self, event: TransactionEventRecorded) -> Toast | None:
        # Every 2.x TransactionEvent is published (Started, Updated, Ended): a session is
        # announced the first time it is heard of, if it began just now, and when it ends.
        if event.active:
            if event.transaction in self._sessions:
                return None
            if len(self._sessions) >= 10_000:  # sessions that never ended: forget them
                self._sessions.clear()
            self._sessions.add(event.transaction)
            if event.started_at is None or utcnow() - event.started_at > STARTED_RECENTLY:
                return None
            return _session_started(_station_name(event.station), event.connector, event.id_tag)
        if event.stopped_at is None:
            return None
        self._sessions.discard(event.transaction)
        energy = None
        if event.register_wh is not None and event.meter_start_wh is not None:
            energy = event.register_wh - event.meter_start_wh
        return _session_stopped(_station_name(event.station), energy, event.reason)

    def show(self, toast: Toast) -> None:
        if toast_send(toast):
            self.shown += 1

    def handle(self, event: LiveEvent) -> None:
        """Turn one event into a toast, within the rate limit. Never raises."""
        try:
            close_old_connections()
            with translation.override(settings.LANGUAGE_CODE):
                toast = self.toast_for(event)
                if toast is not None and self.limiter.admit(toast):
                    self.show(toast)
        except Exception:
            logger.warning("no toast for %s", type(event).__name__, exc_info=True)
        finally:
            self.handled += 1

    def summarise(self) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            toast = self.limiter.summary()
        if toast is not None:
            self.show(toast)

    def run(self, ctx: Context) -> None:
        subscribe(self.heard)
        try:
            while not ctx.stopping():
                try:
                    event = self.inbox.get(timeout=self.poll_seconds)
                except queue.Empty:
                    event = None
                if event is not None:
                    self.handle(event)
                self.summarise()
        finally:
            unsubscribe(self.heard)
