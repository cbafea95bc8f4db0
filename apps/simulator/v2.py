"""OCPP 2.0.1 and 2.1 messages of the simulated charging station, and its answers to the CSMS.

The two versions share these messages field for field; each class only picks the `ocpp`
library's ChargePoint (and so its schemas and payload classes) of its version.
"""

from __future__ import annotations

import uuid
from typing import Any

from ocpp.routing import on
from ocpp.v21 import ChargePoint as V21ChargePoint
from ocpp.v21.enums import Action as V21Action
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201.enums import Action as V201Action

from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime
from apps.simulator import keystore
from apps.simulator.charger import VENDOR, Connector, Session
from apps.simulator.curve import Reading
from apps.simulator.keystore import Setting, Verdict
from apps.simulator.protocol import SimulatorProtocol, now_text

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


def _evse_of(component: dict[str, Any]) -> int | None:
    return (component.get("evse") or {}).get("id")


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


class V2Protocol(SimulatorProtocol):
    """Messages and answers shared by 2.0.1 and 2.1 (`_call`: the version's payloads)."""

    _call: Any
    _call_result: Any

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

    # --- answers to the CSMS -----------------------------------------------------------

    @on("RequestStartTransaction")
    def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> Any:
        sim = self.sim
        tag, token_type = id_token["id_token"], id_token["type"]
        connector = sim.claim_connector(evse_id, tag)
        if connector is None:
            return self._call_result.RequestStartTransaction(status="Rejected")
        authorize = sim.settings.get_bool(keystore.AUTHORIZE_REMOTE_START)
        self.later(
            lambda p: sim.start_session(
                p,
                connector,
                tag,
                token_type=token_type,
                remote_start_id=remote_start_id,
                authorize=authorize,
                trigger="RemoteStart",
            )
        )
        return self._call_result.RequestStartTransaction(status="Accepted")

    @on("RequestStopTransaction")
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> Any:
        sim = self.sim
        if sim.connector_of_transaction(transaction_id) is None:
            return self._call_result.RequestStopTransaction(status="Rejected")
        self.later(lambda p: sim.request_stop(transaction_id, "Remote"))
        return self._call_result.RequestStopTransaction(status="Accepted")

    @on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
        sim = self.sim
        if evse_id is not None:  # resetting one EVSE is not simulated
            return self._call_result.Reset(status="Rejected")
        status = sim.reset(
            stop_reason="SoftReset", boot_reason="RemoteReset", on_idle=type == "OnIdle"
        )
        if status == "Accepted":
            self.later(lambda p: sim.reboot(p, "SoftReset", "RemoteReset"))
        return self._call_result.Reset(status=status)

    @on("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        sim = self.sim
        status = sim.change_availability(
            _evse_of({"evse": evse}) or 0, operational_status == "Operative"
        )
        if status != "Rejected":
            self.later(sim.report_statuses)
        return self._call_result.ChangeAvailability(status=status)

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            attribute_type = item.get("attribute_type", "Actual")
            result: dict[str, Any] = {
                "component": component,
                "variable": variable,
                "attribute_type": attribute_type,
            }
            if attribute_type != "Actual":
                result["attribute_status"] = Verdict.NOT_SUPPORTED_ATTRIBUTE
            else:
                verdict, value = self.sim.settings.read(
                    component["name"], _evse_of(component), variable["name"]
                )
                result["attribute_status"] = verdict
                if value is not None:
                    result["attribute_value"] = value
            results.append(result)
        return self._call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            attribute_type = item.get("attribute_type", "Actual")
            if attribute_type != "Actual":
                verdict = Verdict.NOT_SUPPORTED_ATTRIBUTE
            else:
                address = (component["name"], _evse_of(component), variable["name"])
                verdict = self.sim.settings.write(*address, str(item["attribute_value"]))
                if verdict == Verdict.ACCEPTED:
                    self.sim.setting_written(address)
            results.append(
                {
                    "attribute_type": attribute_type,
                    "attribute_status": verdict,
                    "component": component,
                    "variable": variable,
                }
            )
        return self._call_result.SetVariables(set_variable_result=results)

    @on("GetBaseReport")
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        settings = list(self.sim.settings.readable())
        if report_base == "ConfigurationInventory":
            settings = [s for s in settings if not s.readonly]
        elif report_base == "SummaryInventory":
            settings = [s for s in settings if s.variable == "AvailabilityState"]
        self.later(lambda p: p.notify_report(request_id, settings))  # type: ignore[attr-defined]
        return self._call_result.GetBaseReport(status="Accepted")

    @on("GetReport")
    def on_get_report(
        self,
        request_id: int,
        component_variable: list[dict[str, Any]] | None = None,
        component_criteria: list[str] | None = None,
        **_: Any,
    ) -> Any:
        settings = list(self.sim.settings.readable())
        if component_variable:
            settings = [s for s in settings if any(_matches(s, cv) for cv in component_variable)]
        if component_criteria:
            settings = [s for s in settings if s.variable in component_criteria]
        if not settings:
            return self._call_result.GetReport(status="EmptyResultSet")
        self.later(lambda p: p.notify_report(request_id, settings))  # type: ignore[attr-defined]
        return self._call_result.GetReport(status="Accepted")

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        sim = self.sim
        evse_id = _evse_of({"evse": evse})
        if evse_id is not None and evse_id not in sim.connectors:
            return self._call_result.TriggerMessage(status="Rejected")
        connectors = [c for c in sim.connectors.values() if evse_id in (None, c.connector_id)]
        if requested_message == "BootNotification":
            if sim.accepted:  # a station already accepted refuses a triggered boot
                return self._call_result.TriggerMessage(status="Rejected")
            self.later(lambda p: sim.boot_again(p, "Triggered"))
        elif requested_message == "Heartbeat":
            self.later(lambda p: p.heartbeat())
        elif requested_message == "StatusNotification":

            async def statuses(p: SimulatorProtocol) -> None:
                for c in connectors:
                    await sim.report_status(p, c, force=True)

            self.later(statuses)
        elif requested_message in ("MeterValues", "TransactionEvent"):
            with_session = requested_message == "TransactionEvent"

            async def meter_values(p: SimulatorProtocol) -> None:
                for c in connectors:
                    if with_session and c.session is None:
                        continue
                    session = c.session if with_session else None
                    await p.meter_values(c, session, sim.read_meter(c), "Trigger")

            self.later(meter_values)
        elif requested_message == "FirmwareStatusNotification":
            self.later(lambda p: p.firmware_status(sim.firmware.status, sim.firmware.request_id))
        elif requested_message == "LogStatusNotification":
            self.later(lambda p: p.upload_status(sim.upload.status, sim.upload.request_id))
        else:
            return self._call_result.TriggerMessage(status="NotImplemented")
        return self._call_result.TriggerMessage(status="Accepted")

    @on("UnlockConnector")
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        connector = self.sim.connectors.get(evse_id)
        if connector is None or connector_id != 1:
            return self._call_result.UnlockConnector(status="UnknownConnector")
        if connector.session is not None:
            return self._call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return self._call_result.UnlockConnector(status="Unlocked")

    @on("ReserveNow")
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        sim = self.sim
        if sim.settings.at(("ReservationCtrlr", None, "Enabled")) != "true":
            return self._call_result.ReserveNow(status="Rejected")
        status = sim.reserve(
            reservation_id=id,
            connector_id=evse_id,
            id_tag=id_token["id_token"],
            expires_at=parse_ocpp_datetime(expiry_date_time),
        )
        self.later(sim.report_statuses)
        return self._call_result.ReserveNow(status=status)

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        if not self.sim.cancel_reservation(reservation_id):
            return self._call_result.CancelReservation(status="Rejected")
        self.later(self.sim.report_statuses)
        return self._call_result.CancelReservation(status="Accepted")

    @on("SendLocalList")
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        entries = [
            (e["id_token"]["id_token"], e.get("id_token_info"))
            for e in local_authorization_list or []
        ]
        status = self.sim.send_local_list(
            version=version_number, full=update_type == "Full", entries=entries
        )
        return self._call_result.SendLocalList(status="Failed" if status == "Disabled" else status)

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        return self._call_result.GetLocalListVersion(version_number=self.sim.local_list_version)

    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        return self._call_result.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, data: Any = None, **_: Any) -> Any:
        if vendor_id != VENDOR:
            return self._call_result.DataTransfer(status="UnknownVendorId")
        return self._call_result.DataTransfer(status="Accepted", data=data)

    @on("UpdateFirmware")
    def on_update_firmware(
        self,
        request_id: int,
        firmware: dict[str, Any],
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> Any:
        sim = self.sim
        status = "AcceptedCanceled" if sim.firmware.active else "Accepted"
        retrieve_at = parse_ocpp_datetime(firmware["retrieve_date_time"])
        self.later(
            lambda p: sim.update_firmware(
                location=firmware["location"],
                retrieve_at=retrieve_at,
                retries=retries,
                retry_interval=retry_interval,
                request_id=request_id,
            )
        )
        return self._call_result.UpdateFirmware(status=status)

    @on("GetLog")
    def on_get_log(
        self,
        log: dict[str, Any],
        log_type: str,
        request_id: int,
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> Any:
        sim = self.sim
        status = "AcceptedCanceled" if sim.upload.active else "Accepted"
        filename = sim.diagnostics_file_name()
        self.later(
            lambda p: sim.upload_logs(
                location=log["remote_location"],
                filename=filename,
                retries=retries,
                retry_interval=retry_interval,
                request_id=request_id,
            )
        )
        return self._call_result.GetLog(status=status, filename=filename)

    @on("GetTransactionStatus")
    def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any) -> Any:
        ongoing = None
        if transaction_id is not None:
            ongoing = self.sim.connector_of_transaction(transaction_id) is not None
        return self._call_result.GetTransactionStatus(
            messages_in_queue=False, ongoing_indicator=ongoing
        )


def _matches(setting: Setting, wanted: dict[str, Any]) -> bool:
    component = wanted.get("component") or {}
    if component.get("name") != setting.component:
        return False
    evse = _evse_of(component)
    if evse is not None and evse != setting.evse:
        return False
    variable = (wanted.get("variable") or {}).get("name")
    return variable is None or variable == setting.variable


class V201Protocol(V2Protocol, V201ChargePoint):
    actions = V201Action


class V21Protocol(V2Protocol, V21ChargePoint):
    actions = V21Action
