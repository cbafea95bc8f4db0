"""OCPP 1.6 answers of the simulated charge point to the central system's commands.

Each handler validates the request, asks the charger (`self.sim`) for a decision and queues
the follow-up work with `later()`; the messages the charge point sends are in `v16.py`,
whose protocol class adds them on top of these answers.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from apps.core.timeutil import parse_ocpp_datetime
from apps.simulator import keystore
from apps.simulator.keystore import Verdict
from apps.simulator.protocol import SimulatorProtocol
from apps.simulator.state import VENDOR


class V16Answers(SimulatorProtocol):
    """The answers of a 1.6 charge point."""

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        sim = self.sim
        connector = sim.claim_connector(connector_id, id_tag)
        if connector is None:
            return call_result.RemoteStartTransaction(status="Rejected")
        authorize = sim.settings.get_bool(keystore.AUTHORIZE_REMOTE_START)
        self.later(
            lambda p: sim.start_session(
                p, connector, id_tag, authorize=authorize, trigger="RemoteStart"
            )
        )
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(
        self, transaction_id: int, **_: Any
    ) -> call_result.RemoteStopTransaction:
        sim = self.sim
        if sim.connector_of_transaction(str(transaction_id)) is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self.later(lambda p: sim.request_stop(str(transaction_id), "Remote"))
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> call_result.Reset:
        sim = self.sim
        reason = "HardReset" if type == "Hard" else "SoftReset"
        self.later(lambda p: sim.reboot(p, reason, "RemoteReset"))
        return call_result.Reset(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str, **_: Any
    ) -> call_result.ChangeAvailability:
        sim = self.sim
        was_operative = sim.station_operative
        status = sim.change_availability(connector_id, type == "Operative")
        if status != "Rejected":

            async def report(p: SimulatorProtocol) -> None:
                if connector_id == 0 and sim.station_operative != was_operative:
                    await p.status(0, "Available" if sim.station_operative else "Unavailable")
                await sim.report_statuses(p)

            self.later(report)
        return call_result.ChangeAvailability(status=status)

    @on(Action.change_configuration)
    def on_change_configuration(
        self, key: str, value: str, **_: Any
    ) -> call_result.ChangeConfiguration:
        verdict = self.sim.settings.write("", None, key, value)
        if verdict == Verdict.ACCEPTED:
            self.sim.setting_written(("", None, key))
            return call_result.ChangeConfiguration(status="Accepted")
        if verdict == Verdict.REJECTED:
            return call_result.ChangeConfiguration(status="Rejected")
        return call_result.ChangeConfiguration(status="NotSupported")

    @on(Action.get_configuration)
    def on_get_configuration(
        self, key: list[str] | None = None, **_: Any
    ) -> call_result.GetConfiguration:
        settings = self.sim.settings
        wanted = [s.variable for s in settings.readable()] if not key else key
        known, unknown = [], []
        for name in wanted:
            setting = settings.lookup("", None, name)
            if isinstance(setting, str):
                unknown.append(name)
                continue
            entry: dict[str, Any] = {"key": name, "readonly": setting.readonly}
            if not setting.write_only:
                entry["value"] = settings.value_of(setting)
            known.append(entry)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        sim = self.sim
        if connector_id is not None and connector_id != 0 and connector_id not in sim.connectors:
            return call_result.TriggerMessage(status="Rejected")
        connectors = [
            c for c in sim.connectors.values() if connector_id in (None, 0, c.connector_id)
        ]
        if requested_message == "BootNotification":
            self.later(lambda p: sim.boot_again(p, "Triggered"))
        elif requested_message == "Heartbeat":
            self.later(lambda p: p.heartbeat())
        elif requested_message == "StatusNotification":

            async def statuses(p: SimulatorProtocol) -> None:
                if connector_id in (None, 0):
                    await p.status(0, "Available" if sim.station_operative else "Unavailable")
                for c in connectors if connector_id != 0 else []:
                    await sim.report_status(p, c, force=True)

            self.later(statuses)
        elif requested_message == "MeterValues":

            async def meter_values(p: SimulatorProtocol) -> None:
                for c in connectors:
                    await p.meter_values(c, c.session, sim.read_meter(c), "Trigger")

            self.later(meter_values)
        elif requested_message == "FirmwareStatusNotification":
            self.later(lambda p: p.firmware_status(sim.firmware.status, None))
        elif requested_message == "DiagnosticsStatusNotification":
            self.later(lambda p: p.upload_status(sim.upload.status, None))
        else:
            return call_result.TriggerMessage(status="NotImplemented")
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        sim = self.sim
        connector = sim.connectors.get(connector_id)
        if connector is None:
            return call_result.UnlockConnector(status="NotSupported")
        if connector.session is not None:
            # 1.6: unlocking ends the transaction first.
            transaction_id = connector.session.transaction_id
            self.later(lambda p: sim.request_stop(transaction_id, "UnlockCommand"))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        **_: Any,
    ) -> call_result.ReserveNow:
        sim = self.sim
        if connector_id == 0:  # ReserveConnectorZeroSupported is false
            return call_result.ReserveNow(status="Rejected")
        status = sim.reserve(
            reservation_id=reservation_id,
            connector_id=connector_id,
            id_tag=id_tag,
            expires_at=parse_ocpp_datetime(expiry_date),
        )
        self.later(sim.report_statuses)
        return call_result.ReserveNow(status=status)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        if not self.sim.cancel_reservation(reservation_id):
            return call_result.CancelReservation(status="Rejected")
        self.later(self.sim.report_statuses)
        return call_result.CancelReservation(status="Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.SendLocalList:
        entries = [(e["id_tag"], e.get("id_tag_info")) for e in local_authorization_list or []]
        status = self.sim.send_local_list(
            version=list_version, full=update_type == "Full", entries=entries
        )
        return call_result.SendLocalList(status="NotSupported" if status == "Disabled" else status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(list_version=self.sim.local_list_version)

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, data: str | None = None, **_: Any
    ) -> call_result.DataTransfer:
        if vendor_id != VENDOR:
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted", data=data)

    @on(Action.update_firmware)
    def on_update_firmware(
        self,
        location: str,
        retrieve_date: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> call_result.UpdateFirmware:
        sim = self.sim
        retrieve_at = parse_ocpp_datetime(retrieve_date)
        self.later(
            lambda p: sim.firmware.start(
                location=location,
                retrieve_at=retrieve_at,
                retries=retries,
                retry_interval=retry_interval,
            )
        )
        return call_result.UpdateFirmware()

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(
        self,
        request_id: int,
        firmware: dict[str, Any],
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> call_result.SignedUpdateFirmware:
        """Security extension: a signed image, checked against its certificate once downloaded."""
        status = self.firmware_update_later(firmware, request_id, retries, retry_interval)
        return call_result.SignedUpdateFirmware(status=status)

    @on(Action.get_log)
    def on_get_log(
        self,
        log: dict[str, Any],
        log_type: str,
        request_id: int,
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> call_result.GetLog:
        """Security extension: upload as for GetDiagnostics, reported by LogStatusNotification."""
        status, filename = self.log_upload_later(log, request_id, retries, retry_interval)
        return call_result.GetLog(status=status, filename=filename)

    @on(Action.get_diagnostics)
    def on_get_diagnostics(
        self,
        location: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> call_result.GetDiagnostics:
        sim = self.sim
        filename = sim.upload.file_name()
        self.later(
            lambda p: sim.upload.start(
                location=location,
                filename=filename,
                retries=retries,
                retry_interval=retry_interval,
            )
        )
        return call_result.GetDiagnostics(file_name=filename)
