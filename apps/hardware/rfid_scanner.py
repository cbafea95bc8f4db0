"""The RFID scanner: the managed service that reads cards, and what a scan does.

The service (feature `rfid-scanner`) opens the reader the settings name, reads until it is
told to stop, and lets a device error end it: its supervisor opens the reader again after a
pause, so a reader unplugged and plugged back works again.

A scan (`card_scan_record`) is checked against the id tags, recorded as a `CardScan`, shown
live (`CardScanned`), and on a node with a local charger starts or stops a session there:
an accepted card with no session of its own there starts one (RemoteStartTransaction /
RequestStartTransaction with that id tag, through the one command path); the same card
scanned again while its session runs stops it (RemoteStop / RequestStopTransaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.services import command_wait
from apps.core.events import CardScanned
from apps.core.live import publish
from apps.core.timeutil import utcnow
from apps.hardware import services as supervisor
from apps.hardware.models import CardScan
from apps.hardware.rfid_readers import (
    CardReader,
    Debouncer,
    Mfrc522Reader,
    ReaderError,
    SerialReader,
    uid_normalise,
)
from apps.nodes import features
from apps.rfid.models import AuthorizationStatus, IdTag
from apps.rfid.services import id_tag_authorize
from apps.transactions.models import Transaction
from apps.transactions.operations import remote_start, remote_stop

logger = logging.getLogger(__name__)

# Scans kept in the database (the admin shows the last ones; older ones are pruned).
SCANS_KEPT = 500
# Pause between two polls of a reader that does not block (MFRC522).
POLL_S = 0.1


# --- The reader the settings name ------------------------------------------------------


def reader_open() -> CardReader:
    """Open the card reader named by RFID_READER (auto, serial, mfrc522); raise ReaderError."""
    kind = settings.RFID_READER
    if kind not in ("auto", "serial", "mfrc522"):
        raise ReaderError(f"RFID_READER is {kind!r}: use auto, serial or mfrc522")
    if kind in ("auto", "serial"):
        port = settings.RFID_SERIAL_PORT or next(
            (str(path) for path in features.serial_ports() if path.exists()), ""
        )
        if port:
            return SerialReader(port, settings.RFID_SERIAL_BAUD)
        if kind == "serial":
            raise ReaderError("no serial port: set RFID_SERIAL_PORT")
    if kind == "mfrc522" or features.spi_device().exists():
        return Mfrc522Reader(settings.RFID_SPI_BUS, settings.RFID_SPI_DEVICE)
    raise ReaderError(features.detect_rfid().detail)


class RfidScanner:
    """The hardware service reading cards (see the module's docstring)."""

    name = "rfid-scanner"
    feature = features.RFID_SCANNER

    def __init__(
        self,
        open_reader: Callable[[], CardReader] = reader_open,
        debouncer: Debouncer | None = None,
    ) -> None:
        self._open_reader = open_reader
        self._debouncer = debouncer

    def run(self, ctx: supervisor.Context) -> None:
        reader = self._open_reader()
        debouncer = self._debouncer or Debouncer(settings.RFID_DEBOUNCE_S)
        logger.info("rfid scanner: reading %s", type(reader).__name__)
        try:
            while not ctx.stopping():
                uid = reader.read_uid()  # ReaderError ends the run: the supervisor restarts it
                if uid is None:
                    if not reader.blocking and ctx.wait(POLL_S):
                        return
                    continue
                if debouncer.is_new(uid):
                    card_scan_handle(uid=uid)
                    # What the reader sent while the scan was handled (the card held on it)
                    # is not a new scan: drop it, and count the card as held until now.
                    reader.flush()
                    debouncer.hold(uid)
        finally:
            reader.close()


def card_scan_handle(*, uid: str) -> CardScan | None:
    """Record a scan from the reader; never raise (a card must not stop the scanner)."""
    try:
        close_old_connections()
        return card_scan_record(uid=uid)
    except Exception:
        logger.exception("rfid scanner: scan of card %s not handled", uid)
        return None


# --- A scan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    station: ChargingStation | None
    connector_id: int
    detail: str = ""


def scanner_station() -> _Target:
    """Return the charger scans act on: RFID_SCANNER_STATION, else the only connected one."""
    connector = settings.RFID_SCANNER_CONNECTOR
    charger_id = settings.RFID_SCANNER_STATION
    if charger_id:
        station = ChargingStation.objects.filter(charger_id=charger_id).first()
        if station is None:
            detail = _("RFID_SCANNER_STATION %(id)s is not a known station") % {"id": charger_id}
            return _Target(None, connector, detail)
        return _Target(station, connector)
    connected = list(ChargingStation.objects.filter(is_connected=True)[:2])
    if len(connected) == 1:
        return _Target(connected[0], connector)
    if connected:
        return _Target(None, connector, _("several stations connected: set RFID_SCANNER_STATION"))
    return _Target(None, connector, _("no local charger connected"))


def card_authorize(*, uid: str, station: ChargingStation | None, busy: bool) -> str:
    """Return the authorization status of the card `uid` for a session at `station`."""
    info = id_tag_authorize(
        id_tag=uid,
        free_charging=bool(station and station.free_charging),
        has_active_transaction=busy,
    )
    # A card's energy account decides inside id_tag_authorize: a blocked or closed account
    # makes the card Blocked, an exhausted one NoCredit (docs/billing.md).
    return str(info.status)


def card_scan_record(*, uid: str) -> CardScan:
    """Check the card `uid`, record the scan, show it live, and start or stop a local session.

    Raise ValueError when `uid` is not a card number. The scan waits up to
    RFID_SCANNER_COMMAND_WAIT seconds for the charger's answer to a start or stop, and
    records it; the scan is published when recorded and again with the answer.
    """
    uid = uid_normalise(uid)
    target = scanner_station()
    station = target.station
    running = Transaction.objects.filter(id_tag=uid, stopped_at__isnull=True)
    own = running.filter(station=station).first() if station is not None else None
    result = card_authorize(uid=uid, station=station, busy=own is None and running.exists())
    scan = CardScan(uid=uid, at=utcnow(), result=result, station=station, detail=target.detail)
    command: ChargerCommand | None = None
    try:
        if station is None:
            pass
        elif own is not None:
            # The card that started the session stops it, whatever its status is now.
            command = remote_stop(station=station, transaction_id=own.transaction_id, source="rfid")
            scan.action = CardScan.Action.STOPPED
        elif result != AuthorizationStatus.ACCEPTED:
            scan.detail = _("card refused: %(result)s") % {"result": result}
        elif Transaction.objects.filter(
            station=station,
            connector__connector_id=target.connector_id,
            stopped_at__isnull=True,
        ).exists():
            scan.detail = _("connector %(n)s is busy") % {"n": target.connector_id}
        else:
            command = remote_start(
                station=station, id_tag=uid, connector_id=target.connector_id, source="rfid"
            )
            scan.action = CardScan.Action.STARTED
    except CommandError as exc:
        scan.action = CardScan.Action.FAILED
        scan.detail = str(exc)[:300]
    scan.command = command
    if command is not None:
        scan.detail = _("%(action)s sent") % {"action": command.action}
    scan.save()
    _publish(scan)
    _prune()
    if command is not None:
        command = command_wait(command=command, wait_s=settings.RFID_SCANNER_COMMAND_WAIT)
        card_scan_outcome(scan=scan, command=command)
    return scan


def card_scan_outcome(*, scan: CardScan, command: ChargerCommand) -> CardScan:
    """Record on `scan` how the charger answered its start or stop command."""
    if command.status == CommandStatus.ACCEPTED:
        scan.detail = _("%(action)s accepted") % {"action": command.action}
    elif command.is_final:
        scan.action = CardScan.Action.FAILED
        reason = command.error_description or command.error_code
        scan.detail = (f"{command.action}: {command.status} {reason}").strip()[:300]
    else:
        scan.detail = _("%(action)s sent, no answer yet") % {"action": command.action}
    scan.save(update_fields=["action", "detail"])
    _publish(scan)
    return scan


class CardRegisterError(ValueError):
    """The scanned card cannot be registered (it is already an id tag)."""


def card_register(*, scan: CardScan) -> IdTag:
    """Register the card of `scan` as an Accepted id tag; raise CardRegisterError if known."""
    if IdTag.objects.filter(id_tag=scan.uid).exists():
        raise CardRegisterError(_("Card %(uid)s is already an id tag.") % {"uid": scan.uid})
    label = _("card scanned %(at)s") % {"at": scan.at.strftime("%Y-%m-%d %H:%M")}
    try:
        with transaction.atomic():
            return IdTag.objects.create(
                id_tag=scan.uid, status=AuthorizationStatus.ACCEPTED, label=label[:100]
            )
    except IntegrityError as exc:  # registered meanwhile (two clicks, two operators)
        raise CardRegisterError(
            _("Card %(uid)s is already an id tag.") % {"uid": scan.uid}
        ) from exc


def _publish(scan: CardScan) -> None:
    publish(
        CardScanned(
            scan=scan.pk,
            uid=scan.uid,
            result=scan.result,
            action=scan.action,
            station=scan.station.charger_id if scan.station is not None else "",
            detail=scan.detail,
            at=scan.at,
        )
    )


def _prune() -> None:
    keep = CardScan.objects.values_list("pk", flat=True)[SCANS_KEPT : SCANS_KEPT + 1]
    oldest_kept = list(keep)
    if oldest_kept:
        CardScan.objects.filter(pk__lte=oldest_kept[0]).delete()
