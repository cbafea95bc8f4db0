"""Firmware and diagnostics transfers of a simulated charger, from request to last status.

`FirmwareUpdate` and `LogUpload` run one transfer each in the background (a new request
replaces the one in progress) and report every step with the version's status
notification. The HTTP itself is blocking `requests` calls, run with `asyncio.to_thread`:
transfers are rare, and a thread for the few seconds of one costs nothing next to a thread
per charger.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from apps.core.timeutil import format_ocpp_datetime, utcnow

if TYPE_CHECKING:
    from apps.simulator.charger import SimulatedCharger

logger = logging.getLogger(__name__)

TIMEOUT_S = 30.0
CHUNK_BYTES = 64 * 1024


class TransferError(Exception):
    """The transfer failed; the message says why, for the charger's log."""


def _check_http(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise TransferError(f"cannot transfer over {scheme or 'no scheme'}: HTTP(S) only")


def download(url: str, *, timeout: float = TIMEOUT_S) -> tuple[int, str]:
    """Fetch `url` and return (size in bytes, SHA-256 hex digest); keep nothing in memory."""
    _check_http(url)
    digest = hashlib.sha256()
    size = 0
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise TransferError(f"GET {url}: HTTP {response.status_code}")
            for chunk in response.iter_content(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except requests.RequestException as exc:
        raise TransferError(f"GET {url}: {exc}") from exc
    return size, digest.hexdigest()


def upload(url: str, *, filename: str, content: bytes, timeout: float = TIMEOUT_S) -> int:
    """POST `content` to `url` as a multipart file upload; return the HTTP status."""
    _check_http(url)
    try:
        response = requests.post(
            url, files={"file": (filename, content, "text/plain")}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise TransferError(f"POST {url}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise TransferError(f"POST {url}: HTTP {response.status_code}")
    return response.status_code


class Transfer:
    """One kind of transfer of one charger: its last status and the task running it."""

    def __init__(self, sim: SimulatedCharger) -> None:
        self.sim = sim
        self.status = "Idle"
        self.request_id: int | None = None
        self.task: asyncio.Task | None = None

    @property
    def active(self) -> bool:
        return self.task is not None and not self.task.done()

    def _replace(self, job: Coroutine[Any, Any, None], request_id: int | None) -> None:
        """Cancel the transfer in progress, if any, and run `job` instead."""
        if self.active and self.task is not None:
            self.task.cancel()
        self.request_id = request_id
        self.task = self.sim.spawn(job)


class FirmwareUpdate(Transfer):
    """UpdateFirmware: wait for the retrieve time, download, install, reboot, report Installed."""

    def start(
        self,
        *,
        location: str,
        retrieve_at: datetime,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None = None,
    ) -> None:
        """Start a firmware update (one at a time: a new request replaces one in progress)."""
        self._replace(
            self._update(location, retrieve_at, retries, retry_interval, request_id), request_id
        )

    async def _report(self, status: str, request_id: int | None) -> None:
        self.status = status
        await self.sim.when_online(lambda p: p.firmware_status(status, request_id))

    async def _update(
        self,
        location: str,
        retrieve_at: datetime,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None,
    ) -> None:
        sim = self.sim
        wait = (retrieve_at - utcnow()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        attempts = max(1, retries or 1)
        for attempt in range(1, attempts + 1):
            await self._report("Downloading", request_id)
            try:
                size, digest = await asyncio.to_thread(download, location)
                break
            except TransferError as exc:
                sim.note(f"firmware download {attempt}/{attempts} failed: {exc}")
                logger.info("%s: %s", sim.charger_id, exc)
                if attempt == attempts:
                    await self._report("DownloadFailed", request_id)
                    self.status = "Idle"
                    return
                await asyncio.sleep(min(retry_interval or 0, 60))
        sim.note(f"firmware downloaded: {size} bytes, sha256 {digest[:12]}")
        await self._report("Downloaded", request_id)
        await self._report("Installing", request_id)
        name = urlsplit(location).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        sim.firmware_version = (name or f"sim-{digest[:12]}")[:50]
        if not sim.v16:
            await self._report("InstallRebooting", request_id)
        booted = sim.next_boot()
        sim.submit(lambda p: sim.reboot(p, "Reboot", "FirmwareUpdate"))
        await booted.wait()
        await self._report("Installed", request_id)
        self.status = "Idle"


class LogUpload(Transfer):
    """GetDiagnostics / GetLog: upload the diagnostics file, retrying, and report the outcome."""

    def file_name(self) -> str:
        """Return the name of a diagnostics file made now."""
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        return f"diagnostics-{quote(self.sim.charger_id, safe='')}-{stamp}.log"

    def start(
        self,
        *,
        location: str,
        filename: str,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None = None,
    ) -> None:
        """Start uploading a diagnostics file (one at a time: a new request replaces one)."""
        self._replace(
            self._upload(location, filename, retries, retry_interval, request_id), request_id
        )

    async def _report(self, status: str, request_id: int | None) -> None:
        self.status = status
        await self.sim.when_online(lambda p: p.upload_status(status, request_id))

    async def _upload(
        self,
        location: str,
        filename: str,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None,
    ) -> None:
        sim = self.sim
        await self._report("Uploading", request_id)
        content = diagnostics_text(sim).encode()
        attempts = max(1, retries or 1)
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.to_thread(upload, location, filename=filename, content=content)
                break
            except TransferError as exc:
                sim.note(f"diagnostics upload {attempt}/{attempts} failed: {exc}")
                logger.info("%s: %s", sim.charger_id, exc)
                if attempt == attempts:
                    await self._report("Failed", request_id)
                    self.status = "Idle"
                    return
                await asyncio.sleep(min(retry_interval or 0, 60))
        await self._report("Uploaded", request_id)
        self.status = "Idle"


def diagnostics_text(sim: SimulatedCharger) -> str:
    """Return the diagnostics file: identity, connectors, settings and recent events."""
    lines = [
        "Constellation charge point simulator: diagnostics",
        f"charger: {sim.charger_id}",
        f"ocpp: {sim.version}",
        f"firmware: {sim.firmware_version}",
        f"generated: {format_ocpp_datetime(utcnow())}",
        "",
        "[connectors]",
    ]
    for connector in sim.connectors.values():
        session = connector.session
        lines.append(
            f"{connector.connector_id}: {connector.status}, "
            f"register {connector.meter.energy_wh:.0f} Wh"
            + (f", transaction {session.transaction_id}" if session else "")
        )
    lines += ["", "[settings]"]
    for setting in sim.settings.readable():
        if setting.write_only:
            continue
        where = ".".join(part for part in (setting.component, str(setting.evse or "")) if part)
        name = f"{where}.{setting.variable}" if where else setting.variable
        lines.append(f"{name} = {sim.settings.value_of(setting)}")
    lines += ["", "[events]", *sim.events, ""]
    return "\n".join(lines)
