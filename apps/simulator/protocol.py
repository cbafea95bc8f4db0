"""What every version's protocol object adds to the `ocpp` library's ChargePoint.

A protocol object lives as long as one websocket connection. It builds the version's
messages for the simulated charger (`boot`, `status`, `start_transaction`, ...) and
answers the CSMS's commands by asking the charger for a decision. Work that must follow an
answer (a StatusNotification after ChangeAvailability, the reboot after Reset) is queued
with `later()` and reaches the charger's behaviour loop only once the answer is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import NotImplementedError as OcppNotImplementedError
from ocpp.exceptions import NotSupportedError, OCPPError

from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime, utcnow
from apps.simulator.curve import Reading
from apps.simulator.transfers import signing_certificate_load

if TYPE_CHECKING:
    from apps.simulator.charger import SimulatedCharger
    from apps.simulator.state import Connector, Session


class _WireLogger(logging.LoggerAdapter):
    """The library logs every frame at INFO; thousands of simulated chargers log them at DEBUG."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


WIRE = _WireLogger(logging.getLogger("apps.simulator.wire"), {})

# Work for the behaviour loop: called with the protocol object of the current connection.
Job = Callable[["SimulatorProtocol"], Awaitable[None] | None]


def now_text() -> str:
    return format_ocpp_datetime(utcnow())


class SimulatorProtocol:
    """Mixin, placed before the version's ChargePoint class in the bases."""

    actions: type[Enum]  # the version's Action enum: known actions
    _ocpp_version: str
    route_map: dict[str, Any]

    def __init__(self, sim: SimulatedCharger, connection: Any) -> None:
        self.sim = sim
        self._after: list[Job] = []
        super().__init__(  # type: ignore[call-arg]
            sim.charger_id,
            connection,
            response_timeout=sim.config.response_timeout,
            logger=WIRE,
        )

    def firmware_update_later(
        self,
        firmware: dict[str, Any],
        request_id: int,
        retries: int | None,
        retry_interval: int | None,
    ) -> str:
        """UpdateFirmware (2.x) and SignedUpdateFirmware (1.6 security extension): queue the
        download (its signature checked against the signing certificate when given); return
        the answer's status."""
        sim = self.sim
        certificate = firmware.get("signing_certificate")
        if certificate is not None and signing_certificate_load(certificate) is None:
            return "InvalidCertificate"
        status = "AcceptedCanceled" if sim.firmware.active else "Accepted"
        retrieve_at = parse_ocpp_datetime(firmware["retrieve_date_time"])
        self.later(
            lambda p: sim.firmware.start(
                location=firmware["location"],
                retrieve_at=retrieve_at,
                retries=retries,
                retry_interval=retry_interval,
                request_id=request_id,
                signature=firmware.get("signature"),
                certificate=certificate,
            )
        )
        return status

    def log_upload_later(
        self,
        log: dict[str, Any],
        request_id: int,
        retries: int | None,
        retry_interval: int | None,
    ) -> tuple[str, str]:
        """GetLog (2.x, and the 1.6 security extension): queue the upload; return the answer's
        status and file name. Progress goes out as LogStatusNotification."""
        sim = self.sim
        status = "AcceptedCanceled" if sim.upload.active else "Accepted"
        filename = sim.upload.file_name()
        self.later(
            lambda p: sim.upload.start(
                location=log["remote_location"],
                filename=filename,
                retries=retries,
                retry_interval=retry_interval,
                request_id=request_id,
            )
        )
        return status, filename

    def later(self, job: Job) -> None:
        """Queue `job` for the behaviour loop once the answer being built has been sent."""
        self._after.append(job)

    async def route_message(self, raw_msg: str) -> None:
        self.sim.stats.messages_received += 1
        await super().route_message(raw_msg)  # type: ignore[misc]
        jobs, self._after = self._after, []
        for job in jobs:
            self.sim.submit(job)

    async def _handle_call(self, msg: Any) -> Any:
        self.sim.stats.commands += 1
        if msg.action not in self.route_map:
            # The library leaves some unknown actions unanswered; answer every one.
            try:
                self.actions(msg.action)
            except ValueError:
                raise OcppNotImplementedError(
                    details={"cause": f"{msg.action} is not an OCPP {self._ocpp_version} action"}
                ) from None
            raise NotSupportedError(details={"cause": f"the simulator does not do {msg.action}"})
        return await super()._handle_call(msg)  # type: ignore[misc]

    async def _send(self, message: str) -> None:
        await super()._send(message)  # type: ignore[misc]
        self.sim.stats.messages_sent += 1

    async def request(self, payload: Any) -> Any | None:
        """Send a CALL; return the answer, or None after counting a CALLERROR or a timeout."""
        action = type(payload).__name__
        try:
            return await self.call(  # type: ignore[attr-defined]
                payload, suppress=False, skip_schema_validation=not self.sim.config.validate
            )
        except OCPPError as exc:
            self.sim.error(f"{action}: CALLERROR {exc.code}: {exc.description}")
        except TimeoutError:
            self.sim.error(f"{action}: no answer within {self.sim.config.response_timeout:g} s")
        return None

    # --- what each version implements --------------------------------------------------

    def status_name(self, status: str) -> str:
        raise NotImplementedError

    async def boot(self, reason: str) -> tuple[str, int] | None:
        raise NotImplementedError

    async def heartbeat(self) -> None:
        raise NotImplementedError

    async def status(self, connector_id: int, name: str) -> None:
        raise NotImplementedError

    async def authorize(self, id_tag: str) -> str | None:
        raise NotImplementedError

    async def start_transaction(
        self, connector: Connector, session: Session, reading: Reading, trigger: str
    ) -> str | None:
        """Start the transaction; return the id tag's status, or None when it failed."""
        raise NotImplementedError

    async def meter_values(
        self, connector: Connector, session: Session | None, reading: Reading, context: str
    ) -> None:
        raise NotImplementedError

    async def charging_state_changed(
        self, connector: Connector, session: Session, reading: Reading
    ) -> None:
        raise NotImplementedError

    async def stop_transaction(
        self, connector: Connector, session: Session, reading: Reading, reason: str
    ) -> None:
        raise NotImplementedError

    async def firmware_status(self, status: str, request_id: int | None) -> None:
        raise NotImplementedError

    async def upload_status(self, status: str, request_id: int | None) -> None:
        raise NotImplementedError

    async def reservation_ended(self, reservation_id: int, status: str) -> None:
        raise NotImplementedError

    async def sign_certificate(self) -> None:
        """Send SignCertificate for a new key (certificate_answers.py)."""
        raise NotImplementedError

    # --- shared helpers ----------------------------------------------------------------

    def measurands(self, sampled: str) -> list[str]:
        return [name for name in sampled.split(",") if name]


def protocol_class(version: str) -> type[SimulatorProtocol]:
    """Return the protocol class of "1.6", "2.0.1" or "2.1"."""
    from apps.simulator import v2, v16

    classes: dict[str, type[SimulatorProtocol]] = {
        "1.6": v16.V16Protocol,
        "2.0.1": v2.V201Protocol,
        "2.1": v2.V21Protocol,
    }
    return classes[version]
