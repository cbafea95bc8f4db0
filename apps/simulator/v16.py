"""OCPP 1.6 messages of the simulated charge point, and its protocol class.

The answers to the central system's commands are in `v16_answers.py`.
"""

from __future__ import annotations

from typing import Any

from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import Action

from apps.core.timeutil import format_ocpp_datetime
from apps.simulator import keystore
from apps.simulator.certificate_answers import V16CertificateAnswers
from apps.simulator.curve import Reading
from apps.simulator.protocol import now_text
from apps.simulator.state import VENDOR, Connector, Session
from apps.simulator.v16_answers import V16Answers

ENERGY = "Energy.Active.Import.Register"
FIRMWARE_STATUSES = frozenset(
    {
        "Downloaded",
        "DownloadFailed",
        "Downloading",
        "Idle",
        "InstallationFailed",
        "Installing",
        "Installed",
    }
)
UPLOAD_STATUSES = {
    "Idle": "Idle",
    "Uploading": "Uploading",
    "Uploaded": "Uploaded",
    "Failed": "UploadFailed",
}
# The security extension's LogStatusNotification spells them as OCPP 2.x does.
LOG_STATUSES = {**UPLOAD_STATUSES, "Failed": "UploadFailure"}


def sampled_values(reading: Reading, context: str, measurands: list[str]) -> list[dict[str, Any]]:
    """Return 1.6 SampledValue entries (values are strings) for `measurands`."""
    values: list[dict[str, Any]] = []

    def add(
        measurand: str, value: str, unit: str, phase: str = "", location: str = "Outlet"
    ) -> None:
        entry = {
            "value": value,
            "context": context,
            "format": "Raw",
            "measurand": measurand,
            "location": location,
            "unit": unit,
        }
        if phase:
            entry["phase"] = phase
        values.append(entry)

    for measurand in measurands:
        if measurand == ENERGY:
            add(measurand, str(int(reading.energy_wh)), "Wh")
        elif measurand == "Power.Active.Import":
            add(measurand, f"{reading.power_w:.1f}", "W")
        elif measurand == "Current.Import":
            for n, amps in enumerate(reading.current_a, start=1):
                add(measurand, f"{amps:.2f}", "A", f"L{n}")
        elif measurand == "Voltage":
            for n, volts in enumerate(reading.voltage_v, start=1):
                add(measurand, f"{volts:.1f}", "V", f"L{n}-N")
        elif measurand == "SoC" and reading.soc_percent is not None:
            add(measurand, str(reading.soc_percent), "Percent", location="EV")
    return values


class V16Protocol(V16CertificateAnswers, V16Answers, ChargePoint):
    """Messages of a 1.6 charge point, on top of its answers."""

    actions = Action

    # --- messages to the central system ------------------------------------------------

    def status_name(self, status: str) -> str:
        return status

    async def boot(self, reason: str) -> tuple[str, int] | None:
        sim = self.sim
        answer = await self.request(
            call.BootNotification(
                charge_point_vendor=VENDOR,
                charge_point_model=sim.config.model[:20],
                charge_point_serial_number=sim.serial_number,
                firmware_version=sim.firmware_version,
                meter_type="Simulated meter",
                meter_serial_number=sim.serial_number,
            )
        )
        return None if answer is None else (answer.status, answer.interval)

    async def heartbeat(self) -> None:
        await self.request(call.Heartbeat())

    async def status(self, connector_id: int, name: str) -> None:
        await self.request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code="OtherError" if name == "Faulted" else "NoError",
                status=name,
                timestamp=now_text(),
            )
        )

    async def authorize(self, id_tag: str) -> str | None:
        answer = await self.request(call.Authorize(id_tag=id_tag))
        return None if answer is None else answer.id_tag_info["status"]

    async def start_transaction(
        self, connector: Connector, session: Session, reading: Reading, trigger: str
    ) -> str | None:
        answer = await self.request(
            call.StartTransaction(
                connector_id=connector.connector_id,
                id_tag=session.id_tag,
                meter_start=session.meter_start_wh,
                timestamp=format_ocpp_datetime(session.started_at),
                reservation_id=session.reservation_id,
            )
        )
        if answer is None:
            return None
        session.transaction_id = str(answer.transaction_id)
        return answer.id_tag_info["status"]

    async def meter_values(
        self, connector: Connector, session: Session | None, reading: Reading, context: str
    ) -> None:
        measurands = self.measurands(self.sim.settings.get(keystore.SAMPLED_MEASURANDS))
        await self.request(
            call.MeterValues(
                connector_id=connector.connector_id,
                transaction_id=int(session.transaction_id) if session else None,
                meter_value=[
                    {
                        "timestamp": now_text(),
                        "sampled_value": sampled_values(reading, context, measurands),
                    }
                ],
            )
        )

    async def charging_state_changed(
        self, connector: Connector, session: Session, reading: Reading
    ) -> None:
        """1.6 says it with the connector's status (SuspendedEV), nothing more."""

    async def stop_transaction(
        self, connector: Connector, session: Session, reading: Reading, reason: str
    ) -> None:
        measurands = self.measurands(self.sim.settings.at(("", None, "StopTxnSampledData")))
        started = format_ocpp_datetime(session.started_at)
        begin = [
            {
                "value": str(session.meter_start_wh),
                "context": "Transaction.Begin",
                "format": "Raw",
                "measurand": ENERGY,
                "location": "Outlet",
                "unit": "Wh",
            }
        ]
        await self.request(
            call.StopTransaction(
                meter_stop=int(reading.energy_wh),
                timestamp=now_text(),
                transaction_id=int(session.transaction_id),
                reason=reason,
                id_tag=session.id_tag,
                transaction_data=[
                    {"timestamp": started, "sampled_value": begin},
                    {
                        "timestamp": now_text(),
                        "sampled_value": sampled_values(reading, "Transaction.End", measurands),
                    },
                ],
            )
        )

    async def firmware_status(self, status: str, request_id: int | None) -> None:
        # A requestId means a SignedUpdateFirmware (security extension) is being reported.
        if request_id is not None:
            await self.request(
                call.SignedFirmwareStatusNotification(status=status, request_id=request_id)
            )
        elif status in FIRMWARE_STATUSES:
            await self.request(call.FirmwareStatusNotification(status=status))

    async def upload_status(self, status: str, request_id: int | None) -> None:
        # A requestId means a GetLog (security extension) is being reported.
        if request_id is not None:
            await self.request(
                call.LogStatusNotification(status=LOG_STATUSES[status], request_id=request_id)
            )
        else:
            await self.request(call.DiagnosticsStatusNotification(status=UPLOAD_STATUSES[status]))

    async def reservation_ended(self, reservation_id: int, status: str) -> None:
        """1.6 tells it with the connector's status only."""
