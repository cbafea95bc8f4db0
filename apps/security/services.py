"""Writes of the security app: events (logged, mailed) and station passwords."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.chargers.models import ChargingStation, SecurityProfile
from apps.commands.services import (
    PASSWORD_KEY_2X,
    PASSWORD_KEY_16,
    SECRET_PLACEHOLDER,
    send_command,
)
from apps.core.events import SecurityEventRecorded
from apps.core.live import publish
from apps.core.timeutil import utcnow
from apps.protocol.versions import V16
from apps.security.models import SecurityEvent
from apps.security.passwords import (
    GENERATED_LENGTH,
    V16_LENGTH,
    authorization_key_encode,
    password_generate,
    password_hash,
)

if TYPE_CHECKING:
    from apps.commands.models import ChargerCommand

logger = logging.getLogger("apps.security")

# One mail per charger and event type in this many seconds: a flood makes one message.
MAIL_EVERY_S = 600


def security_event_record(
    *,
    source: str,
    event_type: str,
    charger_id: str = "",
    station_id: int | None = None,
    tech_info: str = "",
    occurred_at: datetime | None = None,
) -> SecurityEvent:
    """Keep a security event, write it to the security log, and mail it when configured."""
    event = SecurityEvent.objects.create(
        station_id=station_id,
        charger_id=charger_id,
        source=source,
        event_type=event_type,
        tech_info=tech_info,
        occurred_at=occurred_at or utcnow(),
    )
    logger.warning(
        "security event %s from %s (%s): %s", event_type, charger_id or "-", source, tech_info
    )
    if settings.OCPP_SECURITY_EMAILS and _first_in_a_while(f"{charger_id}:{event_type}"):
        transaction.on_commit(lambda: _queue_mail(event.pk))
    publish(
        SecurityEventRecorded(
            event=event.pk,
            station=station_id,
            charger_id=charger_id,
            source=source,
            event_type=event_type,
            tech_info=tech_info[: SecurityEventRecorded.TECH_INFO_LENGTH],
            at=event.occurred_at,
        )
    )
    return event


def _first_in_a_while(key: str) -> bool:
    """Tell whether no mail went for `key` in MAIL_EVERY_S (True when the cache is down)."""
    try:
        return bool(cache.add(f"ocpp:security-mail:{key}", True, MAIL_EVERY_S))
    except Exception:
        return True


def _queue_mail(event_id: int) -> None:
    from apps.security.tasks import mail_security_event

    try:
        mail_security_event.apply_async((event_id,), retry=False)
    except Exception:
        # The event is stored and logged; a broker outage only loses the mail.
        logger.exception("could not queue the mail for security event %s", event_id)


def _length_for(station: ChargingStation) -> int:
    return V16_LENGTH if station.protocol_version is V16 else GENERATED_LENGTH


def station_password_set(*, station: ChargingStation, password: str | None = None) -> str:
    """Give the station a (new, generated) password now; return it to show it once.

    For a station configured by hand. A station still on profile 0 moves to profile 1:
    having a password, it must use it.
    """
    password = password or password_generate(length=_length_for(station))
    station.password_hash = password_hash(password)
    station.pending_password_hash = ""
    station.password_set_at = utcnow()
    if station.security_profile == SecurityProfile.NONE:
        station.security_profile = SecurityProfile.BASIC
    station.save(
        update_fields=[
            "password_hash",
            "pending_password_hash",
            "password_set_at",
            "security_profile",
        ]
    )
    return password


def station_password_rotate(*, station: ChargingStation, **options: Any) -> ChargerCommand:
    """Send the station a new password (1.6 AuthorizationKey, 2.x BasicAuthPassword).

    Until the station accepts it, the old and the new password both open a connection; its
    acceptance makes the new one the only one. The password is never stored in clear: the
    command and the message log hold a placeholder. A 1.6 station gets it hex-encoded, as
    the security whitepaper says (see `authorization_key_encode`).
    """
    password = password_generate(length=_length_for(station))
    station.pending_password_hash = password_hash(password)
    station.save(update_fields=["pending_password_hash"])
    secret = password
    if station.protocol_version is V16:
        action = "ChangeConfiguration"
        payload: dict[str, Any] = {"key": PASSWORD_KEY_16, "value": SECRET_PLACEHOLDER}
        secret = authorization_key_encode(password)
    else:
        component, variable = PASSWORD_KEY_2X.split("/")
        action = "SetVariables"
        item = {"component": {"name": component}, "variable": {"name": variable}}
        payload = {"setVariableData": [{**item, "attributeValue": SECRET_PLACEHOLDER}]}
    return send_command(station=station, action=action, payload=payload, secret=secret, **options)


def station_password_promote(*, station_id: int) -> None:
    """Make the pending (rotated) password the station's only password."""
    station = ChargingStation.objects.select_for_update().get(pk=station_id)
    if not station.pending_password_hash:
        return
    station.password_hash = station.pending_password_hash
    station.pending_password_hash = ""
    station.password_set_at = utcnow()
    if station.security_profile == SecurityProfile.NONE:
        station.security_profile = SecurityProfile.BASIC
    station.save(
        update_fields=[
            "password_hash",
            "pending_password_hash",
            "password_set_at",
            "security_profile",
        ]
    )
