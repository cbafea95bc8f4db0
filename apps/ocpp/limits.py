"""The charger edge's limits: handshakes per IP address, messages per connection.

The buckets are apps/protocol/limits.py's; here they are configured from the settings, and a
frame over its connection's rate is refused (SecurityError) and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from apps.ocpp.connection import ChargerConnection
from apps.protocol.limits import KeyedBuckets, TokenBucket
from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

# A connection over its message rate records one security event per this many seconds.
RATE_EVENT_EVERY_S = 60.0

_handshakes: KeyedBuckets | None = None


def handshake_allowed(ip: str) -> bool:
    """Spend one of the IP address's handshakes (OCPP_HANDSHAKES_PER_MINUTE_PER_IP, 0: off)."""
    global _handshakes
    per_minute = settings.OCPP_HANDSHAKES_PER_MINUTE_PER_IP
    if per_minute <= 0:
        return True
    if _handshakes is None or _handshakes.rate != per_minute / 60:
        _handshakes = KeyedBuckets(per_minute / 60, per_minute)
    return _handshakes.take(ip)


def handshake_interval_s() -> float:
    """How long an address over its handshake limit waits for its next handshake."""
    per_minute = settings.OCPP_HANDSHAKES_PER_MINUTE_PER_IP
    return 60 / per_minute if per_minute > 0 else 0.0


class MessageRate(TokenBucket):
    """A connection's messages per second, twice as many in a burst; `take()` spends one.

    A frame over the rate is refused without database work (a flood must not write per
    frame): refusals are counted here and recorded as one security event per
    RATE_EVENT_EVERY_S at most, with the count since the previous one.
    """

    __slots__ = ("recorded_at", "refused")

    def __init__(self, per_second: float) -> None:
        super().__init__(per_second, per_second * 2)
        self.recorded_at = 0.0
        self.refused = 0

    @classmethod
    def configured(cls) -> MessageRate | None:
        """The limit OCPP_MESSAGES_PER_SECOND sets, or None when it is 0 (off)."""
        per_second = settings.OCPP_MESSAGES_PER_SECOND
        return cls(per_second) if per_second > 0 else None

    @property
    def description(self) -> str:
        return f"over {self.rate:g} messages per second"

    def refuse(self, connection: ChargerConnection, text: str) -> list[str]:
        """Count a frame over the rate; return its replies (SecurityError), built in memory."""
        self.refused += 1
        return connection.refusal_replies(text, f"rate limit: {self.description}")

    def record(self, connection: ChargerConnection) -> Callable[[], None] | None:
        """The database job recording the refusals counted so far as one security event, when
        RATE_EVENT_EVERY_S has passed since the last one; None otherwise."""
        now = time.monotonic()
        if not self.refused or now - self.recorded_at <= RATE_EVENT_EVERY_S:
            return None
        self.recorded_at = now
        tech_info = f"{self.description}: {self.refused} frame(s) refused"
        self.refused = 0

        def record() -> None:
            security_event_record(
                source=SecurityEvent.Source.CSMS,
                event_type="RateLimitExceeded",
                charger_id=connection.charger_id,
                station_id=connection.station.pk,
                tech_info=tech_info,
            )

        return record
