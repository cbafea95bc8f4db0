"""OCPP 2.0.1 and 2.1 answers of the simulated charging station to the CSMS's commands.

Each handler validates the request, asks the charger (`self.sim`) for a decision and queues
the follow-up work with `later()`; the messages the station sends are in `v2.py`, whose
protocol classes add them on top of these answers.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on

from apps.core.timeutil import parse_ocpp_datetime
from apps.simulator import keystore
from apps.simulator.keystore import Setting, Verdict
from apps.simulator.protocol import SimulatorProtocol
from apps.simulator.state import VENDOR


def _evse_of(component: dict[str, Any]) -> int | None:
    return (component.get("evse") or {}).get("id")


class V2Answers(SimulatorProtocol):
    """Answers shared by 2.0.1 and 2.1 (`_call_result`: the version's payloads)."""

    _call_result: Any

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

    @on("CostUpdated")
    def on_cost_updated(self, total_cost: float, transaction_id: str, **_: Any) -> Any:
        # What a station's display would show: kept per session for the operator (and tests).
        self.sim.running_costs[transaction_id] = total_cost
        return self._call_result.CostUpdated()

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
        status = self.firmware_update_later(firmware, request_id, retries, retry_interval)
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
        status, filename = self.log_upload_later(log, request_id, retries, retry_interval)
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
