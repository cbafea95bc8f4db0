"""Authorization of id tags: one service used by Authorize, StartTransaction and StopTransaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.chargers.models import ChargingStation, OcppVersion
from apps.commands.effects import on
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import CommandError, send_command
from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime, utcnow
from apps.rfid.models import AuthorizationStatus, IdTag, LocalListEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdTagInfo:
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str = ""
    tag: IdTag | None = None


def id_tag_authorize(
    *, id_tag: str, free_charging: bool = False, has_active_transaction: bool = False
) -> IdTagInfo:
    """Decide whether `id_tag` may charge.

    Unknown tags are Invalid unless the station offers free charging; a stored tag past its
    expiry date is Expired; a tag already charging elsewhere is ConcurrentTx when the caller
    says so (StartTransaction checks that, Authorize does not).
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
    return IdTagInfo(status=status, expiry_date=tag.expiry_date, parent_id_tag=parent, tag=tag)


# --- Local authorization list (OCPP 1.6 SendLocalList) ------------------------------------

# OCPP 1.6 id tags are CiString20: longer ones (2.x tokens) cannot be in a 1.6 list.
LOCAL_LIST_ID_TAG_MAX = 20


class LocalListError(ValueError):
    """The local list cannot be sent as asked."""


def _local_list_info(tag: IdTag, now: datetime) -> dict[str, Any]:
    """Return the idTagInfo of `tag` as the station should hold it (what Authorize says)."""
    status = tag.status
    if status == AuthorizationStatus.ACCEPTED:
        if tag.expiry_date is not None and tag.expiry_date <= now:
            status = AuthorizationStatus.EXPIRED
        elif tag.parent is not None and tag.parent.status in (
            AuthorizationStatus.BLOCKED,
            AuthorizationStatus.EXPIRED,
        ):
            status = tag.parent.status
    info: dict[str, Any] = {"status": str(status)}
    if tag.expiry_date is not None:
        info["expiryDate"] = format_ocpp_datetime(tag.expiry_date)
    if tag.parent is not None and len(tag.parent.id_tag) <= LOCAL_LIST_ID_TAG_MAX:
        info["parentIdTag"] = tag.parent.id_tag
    return info


def _entry_info(entry: LocalListEntry) -> dict[str, Any]:
    info: dict[str, Any] = {"status": entry.status}
    if entry.expiry_date is not None:
        info["expiryDate"] = format_ocpp_datetime(entry.expiry_date)
    if entry.parent_id_tag:
        info["parentIdTag"] = entry.parent_id_tag
    return info


def _local_list_wanted() -> dict[str, dict[str, Any]]:
    """Return {id tag: idTagInfo} of every tag marked for the local list."""
    now = utcnow()
    wanted = {}
    for tag in IdTag.objects.filter(in_local_list=True).select_related("parent"):
        if len(tag.id_tag) > LOCAL_LIST_ID_TAG_MAX:
            logger.warning("id tag %s is too long for an OCPP 1.6 local list: left out", tag)
            continue
        wanted[tag.id_tag] = _local_list_info(tag, now)
    return dict(sorted(wanted.items()))


def _last_accepted_list_version(station: ChargingStation) -> int:
    last = (
        ChargerCommand.objects.filter(
            station=station, action="SendLocalList", status=CommandStatus.ACCEPTED
        )
        .order_by("-completed_at", "-id")
        .first()
    )
    return last.payload["listVersion"] if last is not None else 0


def local_list_send(
    *,
    station: ChargingStation,
    update_type: str = "Full",
    requested_by: Any = None,
    source: str = "api",
) -> ChargerCommand:
    """Send the local authorization list (every id tag marked in_local_list) to `station`.

    Full replaces the station's list. Differential sends what changed since the list the
    station last accepted: changed or added tags with their idTagInfo, removed tags
    without. listVersion is the station's version + 1. The station's answer (Accepted, or
    Failed / NotSupported / VersionMismatch) is kept on the command; Accepted updates the
    station's version and the LocalListEntry snapshot. Raise LocalListError when a
    Differential has no reliable basis (the station reports a list we did not send).
    """
    if update_type not in ("Full", "Differential"):
        raise LocalListError("update type is Full or Differential")
    if station.ocpp_version and station.ocpp_version != OcppVersion.V16:
        raise LocalListError(
            f"{station.charger_id} speaks {station.ocpp_version}; this list is OCPP 1.6"
        )
    station.refresh_from_db(fields=["local_list_version"])
    current = station.local_list_version or 0
    wanted = _local_list_wanted()
    if update_type == "Full":
        entries = [{"idTag": tag, "idTagInfo": info} for tag, info in wanted.items()]
    else:
        held: dict[str, dict[str, Any]] = {}
        if current > 0:
            basis = _last_accepted_list_version(station)
            if basis != current:
                raise LocalListError(
                    f"{station.charger_id} holds list version {current}, which is not the "
                    f"last one sent from here ({basis or 'none'}): send a Full update"
                )
            held = {e.id_tag: _entry_info(e) for e in station.local_list.all()}
        entries = [
            {"idTag": tag, "idTagInfo": info}
            for tag, info in wanted.items()
            if held.get(tag) != info
        ]
        entries += [{"idTag": tag} for tag in sorted(held) if tag not in wanted]
    payload = {
        "listVersion": max(current, 0) + 1,
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
    """Bring the station's LocalListEntry snapshot in line with a SendLocalList it accepted."""
    payload = command.payload
    version = payload["listVersion"]
    entries = payload.get("localAuthorizationList") or []
    rows = LocalListEntry.objects.filter(station_id=command.station_id)
    with transaction.atomic():
        if payload["updateType"] == "Full":
            rows.delete()
        for entry in entries:
            info = entry.get("idTagInfo")
            if info is None:
                rows.filter(id_tag=entry["idTag"]).delete()
                continue
            expiry = info.get("expiryDate")
            LocalListEntry.objects.update_or_create(
                station_id=command.station_id,
                id_tag=entry["idTag"],
                defaults={
                    "status": info["status"],
                    "expiry_date": parse_ocpp_datetime(expiry) if expiry else None,
                    "parent_id_tag": info.get("parentIdTag", ""),
                    "version": version,
                },
            )


@on("SendLocalList")
def _send_local_list_answered(command: ChargerCommand, response: dict[str, Any]) -> None:
    # Only the OCPP 1.6 list (listVersion, idTag) is mirrored; 2.x lists carry idToken objects.
    if response["status"] == "Accepted" and "listVersion" in command.payload:
        local_list_store_accepted(command=command)
