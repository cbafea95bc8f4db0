"""OCPP 1.6 charge point → central system actions: payload in, service call, payload out."""

from __future__ import annotations

from typing import Any

from apps.chargers import services as chargers
from apps.chargers.models import StationReport
from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime
from apps.maintenance.diagnostics import diagnostics_status_update
from apps.ocpp import common
from apps.protocol.engine import HandlerContext, HandlerRegistry
from apps.reservations import services as reservations
from apps.rfid.services import IdTagInfo, id_tag_authorize, v16_status
from apps.transactions import services as transactions
from apps.transactions.samples import SampledValue

registry = HandlerRegistry()


def _id_tag_info(info: IdTagInfo) -> dict[str, Any]:
    result: dict[str, Any] = {"status": v16_status(info.status)}
    if info.expiry_date is not None:
        result["expiryDate"] = format_ocpp_datetime(info.expiry_date)
    if info.parent_id_tag:
        result["parentIdTag"] = info.parent_id_tag
    return result


def _free_charging(context: HandlerContext) -> bool:
    return bool(context.extra.get("free_charging"))


def _samples(meter_values: list[dict[str, Any]]) -> list[SampledValue]:
    samples = []
    for meter_value in meter_values:
        timestamp = parse_ocpp_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            samples.append(
                SampledValue(
                    timestamp=timestamp,
                    value=sampled["value"],
                    measurand=sampled.get("measurand", ""),
                    phase=sampled.get("phase", ""),
                    unit=sampled.get("unit", ""),
                    context=sampled.get("context", ""),
                    location=sampled.get("location", ""),
                    format=sampled.get("format", ""),
                )
            )
    return samples


@registry.handles("BootNotification")
def boot_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    boot = chargers.station_boot(
        station_id=context.station_id,
        identity=chargers.StationIdentity(
            vendor=payload["chargePointVendor"],
            model=payload["chargePointModel"],
            serial_number=payload.get("chargePointSerialNumber", ""),
            charge_box_serial_number=payload.get("chargeBoxSerialNumber", ""),
            firmware_version=payload.get("firmwareVersion", ""),
            iccid=payload.get("iccid", ""),
            imsi=payload.get("imsi", ""),
            meter_type=payload.get("meterType", ""),
            meter_serial_number=payload.get("meterSerialNumber", ""),
        ),
    )
    return common.boot_answer(context, boot)


registry.handles("Heartbeat")(common.heartbeat)


@registry.handles("Authorize")
def authorize(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    info = id_tag_authorize(id_tag=payload["idTag"], free_charging=_free_charging(context))
    return {"idTagInfo": _id_tag_info(info)}


@registry.handles("StartTransaction")
def start_transaction(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    tx, info = transactions.transaction_start(
        station_id=context.station_id,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start_wh=payload["meterStart"],
        started_at=parse_ocpp_datetime(payload["timestamp"]),
        free_charging=_free_charging(context),
        reservation_id=payload.get("reservationId"),
    )
    if "reservationId" in payload:
        reservations.reservation_use(
            station_id=context.station_id, reservation_id=payload["reservationId"], transaction=tx
        )
    return {"transactionId": int(tx.transaction_id), "idTagInfo": _id_tag_info(info)}


@registry.handles("StopTransaction")
def stop_transaction(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    id_tag = payload.get("idTag", "")
    transactions.transaction_stop(
        station_id=context.station_id,
        transaction_id=str(payload["transactionId"]),
        meter_stop_wh=payload["meterStop"],
        stopped_at=parse_ocpp_datetime(payload["timestamp"]),
        reason=payload.get("reason", ""),
        id_tag=id_tag,
        transaction_data=_samples(payload.get("transactionData", [])),
    )
    if not id_tag:
        return {}
    info = id_tag_authorize(id_tag=id_tag, free_charging=_free_charging(context))
    return {"idTagInfo": _id_tag_info(info)}


@registry.handles("MeterValues")
def meter_values(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    transaction_id = payload.get("transactionId")
    transactions.meter_values_record(
        station_id=context.station_id,
        connector_id=payload["connectorId"],
        transaction_id=None if transaction_id is None else str(transaction_id),
        samples=_samples(payload["meterValue"]),
    )
    return {}


@registry.handles("StatusNotification")
def status_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    timestamp = payload.get("timestamp")
    chargers.connector_status_update(
        station_id=context.station_id,
        report=chargers.ConnectorStatus(
            connector_id=payload["connectorId"],
            status=payload["status"],
            error_code=payload["errorCode"],
            info=payload.get("info", ""),
            vendor_id=payload.get("vendorId", ""),
            vendor_error_code=payload.get("vendorErrorCode", ""),
            timestamp=parse_ocpp_datetime(timestamp) if timestamp else None,
        ),
    )
    return {}


registry.handles("DataTransfer")(common.data_transfer)


@registry.handles("DiagnosticsStatusNotification")
def diagnostics_status_notification(
    context: HandlerContext, payload: dict[str, Any]
) -> dict[str, Any]:
    chargers.station_report_add(
        station_id=context.station_id,
        kind=StationReport.Kind.DIAGNOSTICS,
        status=payload["status"],
    )
    diagnostics_status_update(station_id=context.station_id, status=payload["status"])
    return {}


@registry.handles("FirmwareStatusNotification")
def firmware_status_notification(
    context: HandlerContext, payload: dict[str, Any]
) -> dict[str, Any]:
    chargers.station_report_add(
        station_id=context.station_id,
        kind=StationReport.Kind.FIRMWARE,
        status=payload["status"],
    )
    return {}


# The 1.6 security extension (security whitepaper edition 2).
registry.handles("SecurityEventNotification")(common.security_event_notification)
registry.handles("SignCertificate")(common.sign_certificate)


# The security extension's firmware and log reports quote the requestId of the
# SignedUpdateFirmware / GetLog they follow, as their OCPP 2.x twins do.
registry.handles("SignedFirmwareStatusNotification")(common.firmware_status_with_request)
registry.handles("LogStatusNotification")(common.log_status_notification)
