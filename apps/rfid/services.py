"""Authorization of id tags: one service used by Authorize, StartTransaction and StopTransaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.chargers.models import ChargingStation, OcppVersion
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import CommandError, send_command
from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime, utcnow
from apps.energy.models import EnergyAccount
from apps.energy.selectors import ACCOUNT_NO_CREDIT, account_authorization
from apps.rfid.models import AuthorizationStatus, IdTag, LocalListEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str = ""
    tag: IdTag | None = None
    # Why the card's energy account refused it (kept on the session for the operator).
    reason: str = ""
    # The energy account the session is charged to: set only when the account accepted.
    account_id: int | None = None
    # The card's account's driver language (OCPP 2.x idTokenInfo.language1) and tariff group;
    # empty for a card without an account.
    language: str = ""
    group: str = ""


def v16_status(status: str) -> str:
    """Return `status` as OCPP 1.6 says it: 1.6 has no NoCredit, an exhausted account is Blocked."""
    return AuthorizationStatus.BLOCKED if status == ACCOUNT_NO_CREDIT else status


def id_tag_authorize(
    *, id_tag: str, free_charging: bool = False, has_active_transaction: bool = False
) -> IdTagInfo:
    """Decide whether `id_tag` may charge.

    Unknown tags are Invalid unless the station offers free charging; a stored tag past its
    expiry date is Expired; a tag already charging elsewhere is ConcurrentTx when the caller
    says so (StartTransaction checks that, Authorize does not). A tag that would be Accepted
    and has an energy account asks the account too: blocked or closed → Blocked, exhausted →
    NoCredit (OCPP 2.x; `v16_status` makes it Blocked for 1.6), with the reason.
    """
    tag = IdTag.objects.select_related("parent").filter(id_tag=id_tag).first()
    if tag is None:
        status = AuthorizationStatus.ACCEPTED if free_charging else AuthorizationStatus.INVALID
        return IdTagInfo(status=status)
    parent = tag.parent.id_tag if tag.parent else ""
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED:
        if tag.expiry_date is not None and tag.expiry_date <= utcnow():
            status = AuthorizationStatus.EXPIRED
        elif tag.parent is not None and tag.parent.status in (
            AuthorizationStatus.BLOCKED,
            AuthorizationStatus.EXPIRED,
        ):
            # A blocked group (parent) blocks its members.
            status = tag.parent.status
        elif has_active_transaction:
            status = AuthorizationStatus.CONCURRENT_TX
    if status != AuthorizationStatus.ACCEPTED or tag.account_id is None:
        # Cards without an account: one attribute check, no query (the message path's cost).
        return IdTagInfo(status=status, expiry_date=tag.expiry_date, parent_id_tag=parent, tag=tag)
    account = EnergyAccount.objects.filter(pk=tag.account_id).first()
    if account is None:  # removed meanwhile (SET_NULL not seen yet): the card alone decides
        return IdTagInfo(status=status, expiry_date=tag.expiry_date, parent_id_tag=parent, tag=tag)
    status, reason = account_authorization(account=account)
    return IdTagInfo(
        status=status,
        expiry_date=tag.expiry_date,
        parent_id_tag=parent,
        tag=tag,
        reason=reason,
        account_id=account.pk if status == AuthorizationStatus.ACCEPTED else None,
        language=account.driver_language,
        group=account.group,
    )


# --- Local authorization list (SendLocalList, OCPP 1.6 and 2.x) ----------------------------

# OCPP 1.6 id tags are CiString20: longer ones (2.x tokens) cannot be in a 1.6 list.
LOCAL_LIST_ID_TAG_MAX = 20
# The idToken type of a group (parent) token, as the 2.x Authorize answers name it.
GROUP_ID_TOKEN_TYPE = "Central"
DEFAULT_ID_TOKEN_TYPE = "ISO14443"


class LocalListError(ValueError):
    """The local list cannot be sent as asked."""


def _speaks_v2(station: ChargingStation) -> bool:
    return station.ocpp_version in (OcppVersion.V201, OcppVersion.V21)


def id_token(id_tag: str, token_type: str = "") -> dict[str, str]:
    """Return the OCPP 2.x idToken object of `id_tag`."""
    return {"idToken": id_tag, "type": token_type or DEFAULT_ID_TOKEN_TYPE}


def group_id_token(parent_id_tag: str) -> dict[str, str]:
    """Return the OCPP 2.x groupIdToken object of a parent id tag."""
    return id_token(parent_id_tag, GROUP_ID_TOKEN_TYPE)


def _local_list_status(tag: IdTag, now: datetime, *, v2: bool) -> str:
    """Return the status the station should hold for `tag` (what Authorize says now).

    A card's energy account counts as in Authorize: blocked or closed → Blocked, exhausted →
    NoCredit (1.6: Blocked). The list is a snapshot: a card whose account runs out later
    keeps Accepted there until the list is sent again.
    """
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED:
        if tag.expiry_date is not None and tag.expiry_date <= now:
            status = AuthorizationStatus.EXPIRED
        elif tag.parent is not None and tag.parent.status in (
            AuthorizationStatus.BLOCKED,
            AuthorizationStatus.EXPIRED,
        ):
            status = tag.parent.status
        elif tag.account is not None:
            status, _reason = account_authorization(account=tag.account)
    return str(status) if v2 else v16_status(str(status))


def _entry(
    *,
    v2: bool,
    id_tag: str,
    token_type: str,
    status: str,
    expiry_date: datetime | None,
    parent_id_tag: str,
) -> dict[str, Any]:
    """Return one local list entry: 1.6 {idTag, idTagInfo} or 2.x {idToken, idTokenInfo}."""
    info: dict[str, Any] = {"status": status}
    if v2:
        if expiry_date is not None:
            info["cacheExpiryDateTime"] = format_ocpp_datetime(expiry_date)
        if parent_id_tag:
            info["groupIdToken"] = group_id_token(parent_id_tag)
        return {"idToken": id_token(id_tag, token_type), "idTokenInfo": info}
    if expiry_date is not None:
        info["expiryDate"] = format_ocpp_datetime(expiry_date)
    if parent_id_tag:
        info["parentIdTag"] = parent_id_tag
    return {"idTag": id_tag, "idTagInfo": info}


def _removal(entry: dict[str, Any]) -> dict[str, Any]:
    """Return the Differential entry that removes `entry` from the station's list."""
    return {"idToken": entry["idToken"]} if "idToken" in entry else {"idTag": entry["idTag"]}


def _local_list_wanted(*, v2: bool) -> dict[str, dict[str, Any]]:
    """Return {id tag: list entry} of every tag marked for the local list."""
    now = utcnow()
    wanted = {}
    for tag in IdTag.objects.filter(in_local_list=True).select_related("parent", "account"):
        if not v2 and len(tag.id_tag) > LOCAL_LIST_ID_TAG_MAX:
            logger.warning("id tag %s is too long for an OCPP 1.6 local list: left out", tag)
            continue
        parent = tag.parent.id_tag if tag.parent is not None else ""
        if not v2 and len(parent) > LOCAL_LIST_ID_TAG_MAX:
            parent = ""
        wanted[tag.id_tag] = _entry(
            v2=v2,
            id_tag=tag.id_tag,
            token_type=tag.token_type,
            status=_local_list_status(tag, now, v2=v2),
            expiry_date=tag.expiry_date,
            parent_id_tag=parent,
        )
    return dict(sorted(wanted.items()))


def _local_list_held(station: ChargingStation, *, v2: bool) -> dict[str, dict[str, Any]]:
    """Return {id tag: list entry} of the station's LocalListEntry snapshot."""
    return {
        e.id_tag: _entry(
            v2=v2,
            id_tag=e.id_tag,
            token_type=e.token_type,
            status=e.status,
            expiry_date=e.expiry_date,
            parent_id_tag=e.parent_id_tag,
        )
        for e in station.local_list.all()
    }


def _list_version(payload: dict[str, Any]) -> int:
    # 1.6 says listVersion, 2.x versionNumber.
    return payload.get("listVersion", payload.get("versionNumber", 0))


def _last_accepted_list_version(station: ChargingStation) -> int:
    last = (
        ChargerCommand.objects.filter(
            station=station, action="SendLocalList", status=CommandStatus.ACCEPTED
        )
        .order_by("-completed_at", "-id")
        .first()
    )
    return _list_version(last.payload) if last is not None else 0


def local_list_send(
    *,
    station: ChargingStation,
    update_type: str = "Full",
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send the local authorization list (every id tag marked in_local_list) to `station`.

    Full replaces the station's list. Differential sends what changed since the list the
    station last accepted: changed or added tags with their idTagInfo (2.x idTokenInfo),
    removed tags without. The version (1.6 listVersion, 2.x versionNumber) is the station's
    version + 1. The station's answer (Accepted, or Failed / NotSupported / VersionMismatch)
    is kept on the command; Accepted updates the station's version and the LocalListEntry
    snapshot. Raise LocalListError when a Differential has no reliable basis (the station
    reports a list we did not send).
    """
    if update_type not in ("Full", "Differential"):
        raise LocalListError("update type is Full or Differential")
    v2 = _speaks_v2(station)
    station.refresh_from_db(fields=["local_list_version"])
    current = station.local_list_version or 0
    wanted = _local_list_wanted(v2=v2)
    if update_type == "Full":
        entries = list(wanted.values())
    else:
        held: dict[str, dict[str, Any]] = {}
        if current > 0:
            basis = _last_accepted_list_version(station)
            if basis != current:
                raise LocalListError(
                    f"{station.charger_id} holds list version {current}, which is not the "
                    f"last one sent from here ({basis or 'none'}): send a Full update"
                )
            held = _local_list_held(station, v2=v2)
        entries = []
        for tag, entry in wanted.items():
            before = held.get(tag)
            if before == entry:
                continue
            if v2 and before is not None and before["idToken"] != entry["idToken"]:
                # A 2.x station keys its list by idToken and type: drop the old type first.
                entries.append(_removal(before))
            entries.append(entry)
        entries += [_removal(held[tag]) for tag in sorted(held) if tag not in wanted]
    version = max(current, 0) + 1
    if v2:
        payload: dict[str, Any] = {"versionNumber": version, "updateType": update_type}
        if entries:  # 2.x wants at least one entry when the list is present
            payload["localAuthorizationList"] = entries
    else:
        payload = {
            "listVersion": version,
            "updateType": update_type,
            "localAuthorizationList": entries,
        }
    try:
        return send_command(
            station=station,
            action="SendLocalList",
            payload=payload,
            requested_by=requested_by,
            source=source,
        )
    except CommandError as exc:
        raise LocalListError(str(exc)) from exc


def local_list_store_accepted(*, command: ChargerCommand) -> None:
    """Bring the station's LocalListEntry snapshot in line with a SendLocalList it accepted.

    Entries are applied in order, as the station applies them.
    """
    payload = command.payload
    version = _list_version(payload)
    entries = payload.get("localAuthorizationList") or []
    rows = LocalListEntry.objects.filter(station_id=command.station_id)
    with transaction.atomic():
        if payload["updateType"] == "Full":
            rows.delete()
        for entry in entries:
            if "idToken" in entry:  # OCPP 2.x
                token = entry["idToken"]
                id_tag, token_type = token["idToken"], token["type"]
                info = entry.get("idTokenInfo")
                if info is None:
                    rows.filter(id_tag=id_tag, token_type=token_type).delete()
                    continue
                expiry = info.get("cacheExpiryDateTime")
                parent = (info.get("groupIdToken") or {}).get("idToken", "")
            else:
                id_tag, token_type = entry["idTag"], ""
                info = entry.get("idTagInfo")
                if info is None:
                    rows.filter(id_tag=id_tag).delete()
                    continue
                expiry = info.get("expiryDate")
                parent = info.get("parentIdTag", "")
            LocalListEntry.objects.update_or_create(
                station_id=command.station_id,
                id_tag=id_tag,
                defaults={
                    "token_type": token_type,
                    "status": info["status"],
                    "expiry_date": parse_ocpp_datetime(expiry) if expiry else None,
                    "parent_id_tag": parent,
                    "version": version,
                },
            )
