"""Reads of the OCPP app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from apps.ocpp.models import MessageLog
from apps.protocol import frames

# The message types that pair: a CALL with its CALLRESULT or CALLERROR.
PAIRED = (frames.CALL, frames.CALLRESULT, frames.CALLERROR)


def message_log_recent(*, charger_id: str, limit: int = 50) -> list[MessageLog]:
    """Return the charger's newest frames, newest first."""
    return list(
        MessageLog.objects.filter(charger_id=charger_id).order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class Counterpart:
    """The other half of an exchange: a CALL's answer, or an answer's CALL."""

    entry: MessageLog
    round_trip_ms: int  # from the CALL to its answer


def pair_window() -> timedelta:
    """Return how far apart in time a CALL and its answer are looked for."""
    # A station's answer comes within the command timeout; our own answers at once.
    return timedelta(seconds=2 * settings.OCPP_COMMAND_TIMEOUT)


def message_log_counterparts(*, entries: Sequence[MessageLog]) -> dict[int, Counterpart]:
    """Return, by entry pk, the CALL or answer each entry pairs with, in one query.

    A CALL pairs with the first CALLRESULT or CALLERROR of the same charger and message id
    sent the other way at or after it; an answer with the latest such CALL at or before it
    (chargers may reuse message ids over time). The query stays on the (charger_id,
    created_at) index: each charger's ids are looked for around the entries' times only.
    """
    wanted = [entry for entry in entries if entry.message_id and entry.message_type in PAIRED]
    if not wanted:
        return {}
    by_charger: dict[str, list[MessageLog]] = defaultdict(list)
    for entry in wanted:
        by_charger[entry.charger_id].append(entry)
    window = pair_window()
    condition = Q()
    for charger_id, group in by_charger.items():
        condition |= Q(
            charger_id=charger_id,
            message_id__in={entry.message_id for entry in group},
            created_at__gte=min(entry.created_at for entry in group) - window,
            created_at__lte=max(entry.created_at for entry in group) + window,
            message_type__in=PAIRED,
        )
    candidates: dict[tuple[str, str], list[MessageLog]] = defaultdict(list)
    for candidate in MessageLog.objects.filter(condition).order_by("created_at", "id"):
        candidates[(candidate.charger_id, candidate.message_id)].append(candidate)
    found: dict[int, Counterpart] = {}
    for entry in wanted:
        rows = candidates[(entry.charger_id, entry.message_id)]
        if entry.message_type == frames.CALL:
            call, answer = entry, _answer_of(entry, rows)
        else:
            call, answer = _call_of(entry, rows), entry
        if call is None or answer is None or answer.created_at - call.created_at > window:
            continue
        # Each side must name the other: an id used again later pairs with its own CALL.
        if _pk(_answer_of(call, rows)) != answer.pk or _pk(_call_of(answer, rows)) != call.pk:
            continue
        other = answer if entry.pk == call.pk else call
        found[entry.pk] = Counterpart(other, _ms(answer.created_at - call.created_at))
    return found


def _answer_of(call: MessageLog, rows: list[MessageLog]) -> MessageLog | None:
    """Return the first answer sent the other way at or after `call` (rows in time order)."""
    for row in rows:
        if (
            row.direction != call.direction
            and row.message_type != frames.CALL
            and (row.created_at, row.pk) >= (call.created_at, call.pk)
        ):
            return row
    return None


def _call_of(answer: MessageLog, rows: list[MessageLog]) -> MessageLog | None:
    """Return the latest CALL sent the other way at or before `answer` (rows in time order)."""
    found = None
    for row in rows:
        if (row.created_at, row.pk) > (answer.created_at, answer.pk):
            break
        if row.direction != answer.direction and row.message_type == frames.CALL:
            found = row
    return found


def _pk(entry: MessageLog | None) -> int | None:
    return entry.pk if entry is not None else None


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)
