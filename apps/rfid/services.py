"""Authorization of id tags: one service used by Authorize, StartTransaction and StopTransaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.core.timeutil import utcnow
from apps.rfid.models import AuthorizationStatus, IdTag


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
