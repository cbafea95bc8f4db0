"""OCPP 2.0.1 and 2.1 messages of the simulated charging station, and its protocol classes.

The two versions share these messages field for field; each class only picks the `ocpp`
library's ChargePoint (and so its schemas and payload classes) of its version. The answers
to the CSMS's commands are in `v2_answers.py`.
"""

from __future__ import annotations

import uuid
from typing import Any

from ocpp.v21 import ChargePoint as V21ChargePoint
from ocpp.v21.enums import Action as V21Action
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201.enums import Action as V201Action

from apps.core.timeutil import format_ocpp_datetime
from apps.simulator import keystore
from apps.simulator.certificate_answers import V2CertificateAnswers
from apps.simulator.curve import Reading
from apps.simulator.keystore import Setting
from apps.simulator.protocol import now_text
from apps.simulator.state import VENDOR, Connector, Session
from apps.simulator.v2_answers import V2Answers

ENERGY = "Energy.Active.Import.Register"
# 1.6 connector status → 2.x connector status.
STATUSES = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}
# 1.6 stop reason → (2.x stoppedReason, the TransactionEvent's triggerReason).
STOP_REASONS = {
    "Local": ("Local", "StopAuthorized"),
    "Remote": ("Remote", "RemoteStop"),
    "SoftReset": ("ImmediateReset", "ResetCommand"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
    "Reboot": ("Reboot", "ResetCommand"),
    "DeAuthorized": ("DeAuthorized", "Deauthorized"),
    "UnlockCommand": ("Other", "UnlockCommand"),
    "EVDisconnected": ("EVDisconnected", "EVCommunicationLost"),
}
UPLOAD_STATUSES = {
    "Idle": "Idle",
    "Uploading": "Uploading",
    "Uploaded": "Uploaded",
    "Failed": "UploadFailure",
}
REPORT_ITEMS_PER_MESSAGE = 20


def sampled_values(reading: Reading, context: str, measurands: list[str]) -> list[dict[str, Any]]:
    """Return 2.x SampledValue entries (values are numbers) for `measurands`."""
    values: list[dict[str, Any]] = []

    def add(
        measurand: str, value: float, unit: str, phase: str = "", location: str = "Outlet"
    ) -> None:
        entry = {
            "value": value,
            "context": context,
            "measurand": measurand,
            "location": location,
            "unit_of_measure": {"unit": unit},
        }
        if phase:
            entry["phase"] = phase
        values.append(entry)

    for measurand in measurands:
        if measurand == ENERGY:
            add(measurand, int(reading.energy_wh), "Wh")
        elif measurand == "Power.Active.Import":
            add(measurand, reading.power_w, "W")
        elif measurand == "Current.Import":
            for n, amps in enumerate(reading.current_a, start=1):
                add(measurand, amps, "A", f"L{n}")
        elif measurand == "Voltage":
            for n, volts in enumerate(reading.voltage_v, start=1):
                add(measurand, volts, "V", f"L{n}-N")
        elif measurand == "SoC" and reading.soc_percent is not None:
            add(measurand, reading.soc_percent, "Percent", location="EV")
    return values


def report_item(setting: Setting, value: str) -> dict[str, Any]:
    """Return one NotifyReport reportData entry for a setting."""
    component: dict[str, Any] = {"name": setting.component}
    if setting.evse is not None:
        component["evse"] = {"id": setting.evse}
    attribute: dict[str, Any] = {"type": "Actual", "mutability": setting.mutability}
    if not setting.write_only:
        attribute["value"] = value
    characteristics: dict[str, Any] = {"data_type": setting.kind, "supports_monitoring": False}
    if setting.members:
        characteristics["values_list"] = ",".join(setting.members)
    return {
        "component": component,
        "variable": {"name": setting.variable},
        "variable_attribute": [attribute],
        "variable_characteristics": characteristics,
    }


class V2Protocol(V2CertificateAnswers, V2Answers):
    """Messages shared by 2.0.1 and 2.1 (`_call`: the version's payloads), on top of the answers."""

    _call: Any

    # --- messages to the CSMS ----------------------------------------------------------

    def status_name(self, status: str) -> str:
        return STATUSES[status]

    async def boot(self, reason: str) -> tuple[str, int] | None:
        sim = self.sim
        answer = await self.request(
            self._call.BootNotification(
                charging_station={
                    "model": sim.config.model[:20],
                    "vendor_name": VENDOR,
                    "serial_number": sim.serial_number,
                    "firmware_version": sim.firmware_version,
                },
                reason=reason,
            )
        )
        return None if answer is None else (answer.status, answer.interval)

    async def heartbeat(self) -> None:
        await self.request(self._call.Heartbeat())

    async def status(self, connector_id: int, name: str) -> None:
        await self.request(
            self._call.StatusNotification(
                timestamp=now_text(), connector_status=name, evse_id=connector_id, connector_id=1
            )
        )

    async def authorize(self, id_tag: str) -> str | None:
        answer = await self.request(
            self._call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"})
        )
        return None if answer is None else answer.id_token_info["status"]

    def _updated_measurands(self) -> list[str]:
        return self.measurands(self.sim.settings.get(keystore.SAMPLED_MEASURANDS))

    async def start_transaction(
        self, connector: Connector, session: Session, reading: Reading, trigger: str
    ) -> str | None:
        session.transaction_id = str(uuid.uuid4())
        begin = sampled_values(reading, "Transaction.Begin", [ENERGY])
        answer = await self.request(
            self._call.TransactionEvent(
                event_type="Started",
                timestamp=format_ocpp_datetime(session.started_at),
                trigger_reason=trigger,
                seq_no=session.next_seq(),
                transaction_info={
                    "transaction_id": session.transaction_id,
                    "charging_state": "Charging",
                    "remote_start_id": session.remote_start_id,
                },
                evse={"id": connector.connector_id, "connector_id": 1},
                id_token={"id_token": session.id_tag, "type": session.token_type},
                meter_value=[{"timestamp": now_text(), "sampled_value": begin}],
                reservation_id=session.reservation_id,
                number_of_phases_used=self.sim.config.phases,
            )
        )
        if answer is None:
            return None
        return (answer.id_token_info or {}).get("status", "Accepted")

    async def _updated(
        self, session: Session, trigger: str, meter_value: list[dict[str, Any]] | None
    ) -> None:
        await self.request(
            self._call.TransactionEvent(
                event_type="Updated",
                timestamp=now_text(),
                trigger_reason=trigger,
                seq_no=session.next_seq(),
                transaction_info={
                    "transaction_id": session.transaction_id,
                    "charging_state": session.charging_state,
                },
                meter_value=meter_value,
            )
        )

    async def meter_values(
        self, connector: Connector, session: Session | None, reading: Reading, context: str
    ) -> None:
        values = sampled_values(reading, context, self._updated_measurands())
        meter_value = [{"timestamp": now_text(), "sampled_value": values}]
        if session is None:
            await self.request(
                self._call.MeterValues(evse_id=connector.connector_id, meter_value=meter_value)
            )
            return
        trigger = "Trigger" if context == "Trigger" else "MeterValuePeriodic"
        await self._updated(session, trigger, meter_value)

    async def charging_state_changed(
        self, connector: Connector, session: Session, reading: Reading
    ) -> None:
        await self._updated(session, "ChargingStateChanged", None)

    async def stop_transaction(
        self, connector: Connector, session: Session, reading: Reading, reason: str
    ) -> None:
        stopped_reason, trigger = STOP_REASONS.get(reason, ("Other", "AbnormalCondition"))
        measurands = self.measurands(
            self.sim.settings.at(("SampledDataCtrlr", None, "TxEndedMeasurands"))
        )
        end = sampled_values(reading, "Transaction.End", measurands or [ENERGY])
        await self.request(
            self._call.TransactionEvent(
                event_type="Ended",
                timestamp=now_text(),
                trigger_reason=trigger,
                seq_no=session.next_seq(),
                transaction_info={
                    "transaction_id": session.transaction_id,
                    "charging_state": "Idle",
                    "stopped_reason": stopped_reason,
                },
                evse={"id": connector.connector_id, "connector_id": 1},
                id_token=(
                    {"id_token": session.id_tag, "type": session.token_type}
                    if trigger == "StopAuthorized"
                    else None
                ),
                meter_value=[{"timestamp": now_text(), "sampled_value": end}],
            )
        )

    async def firmware_status(self, status: str, request_id: int | None) -> None:
        await self.request(
            self._call.FirmwareStatusNotification(
                status=status, request_id=None if status == "Idle" else request_id
            )
        )

    async def upload_status(self, status: str, request_id: int | None) -> None:
        await self.request(
            self._call.LogStatusNotification(
                status=UPLOAD_STATUSES[status], request_id=None if status == "Idle" else request_id
            )
        )

    async def reservation_ended(self, reservation_id: int, status: str) -> None:
        await self.request(
            self._call.ReservationStatusUpdate(
                reservation_id=reservation_id, reservation_update_status=status
            )
        )

    async def notify_report(self, request_id: int, settings: list[Setting]) -> None:
        store = self.sim.settings
        items = [report_item(setting, store.value_of(setting)) for setting in settings]
        chunks = [
            items[start : start + REPORT_ITEMS_PER_MESSAGE]
            for start in range(0, len(items), REPORT_ITEMS_PER_MESSAGE)
        ] or [[]]
        generated_at = now_text()
        for seq_no, chunk in enumerate(chunks):
            await self.request(
                self._call.NotifyReport(
                    request_id=request_id,
                    generated_at=generated_at,
                    seq_no=seq_no,
                    tbc=seq_no < len(chunks) - 1,
                    report_data=chunk or None,
                )
            )


class V201Protocol(V2Protocol, V201ChargePoint):
    actions = V201Action


class V21Protocol(V2Protocol, V21ChargePoint):
    actions = V21Action
