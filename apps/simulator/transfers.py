"""Firmware and diagnostics transfers of a simulated charger, from request to last status.

`FirmwareUpdate` and `LogUpload` run one transfer each in the background (a new request
replaces the one in progress) and report every step with the version's status
notification. The HTTP itself is blocking `requests` calls, run with `asyncio.to_thread`:
transfers are rare, and a thread for the few seconds of one costs nothing next to a thread
per charger.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

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


def signing_certificate_load(pem: str) -> x509.Certificate | None:
    """Return the PEM certificate, or None when it does not parse (InvalidCertificate)."""
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


def signature_verifies(*, sha256_digest: bytes, signature: str, certificate: str) -> bool:
    """Tell whether `signature` (Base64) signs an image of `sha256_digest` with the key of
    `certificate` (PEM): RSA (PKCS#1 v1.5 or PSS) or ECDSA, over SHA-256.

    The image was hashed while it streamed in, so the signature is checked against that
    digest (prehashed) rather than against the image kept in memory.
    """
    loaded = signing_certificate_load(certificate)
    if loaded is None:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key = loaded.public_key()
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return False
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPublicKey):
        paddings = [
            padding.PKCS1v15(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
        ]
        for scheme in paddings:
            try:
                key.verify(raw, sha256_digest, scheme, prehashed)
                return True
            except InvalidSignature:
                continue
        return False
    if isinstance(key, ec.EllipticCurvePublicKey):
        try:
            key.verify(raw, sha256_digest, ec.ECDSA(prehashed))
            return True
        except InvalidSignature:
            return False
    return False


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
    """UpdateFirmware: wait for the retrieve time, download, install, reboot, report Installed.

    A signed update (1.6 SignedUpdateFirmware, 2.x UpdateFirmware with a signature) checks
    the downloaded image's signature against the signing certificate before installing:
    InvalidSignature ends it, SignatureVerified lets it go on.
    """

    def start(
        self,
        *,
        location: str,
        retrieve_at: datetime,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None = None,
        signature: str | None = None,
        certificate: str | None = None,
    ) -> None:
        """Start a firmware update (one at a time: a new request replaces one in progress)."""
        signed = (signature, certificate) if signature and certificate else None
        self._replace(
            self._update(location, retrieve_at, retries, retry_interval, request_id, signed),
            request_id,
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
        signed: tuple[str, str] | None,
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
        if signed is not None:
            signature, certificate = signed
            if not signature_verifies(
                sha256_digest=bytes.fromhex(digest), signature=signature, certificate=certificate
            ):
                sim.note("firmware signature does not verify: not installed")
                await self._report("InvalidSignature", request_id)
                self.status = "Idle"
                return
            await self._report("SignatureVerified", request_id)
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
