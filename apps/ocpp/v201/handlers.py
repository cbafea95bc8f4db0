"""OCPP 2.0.1 charging station → CSMS actions (OCPP 2.1 reuses them: same messages)."""

from __future__ import annotations

from typing import Any

from apps.chargers import services as chargers
from apps.core.timeutil import format_ocpp_datetime, parse_ocpp_datetime
from apps.devicemodel import services as devicemodel
from apps.ocpp import common
from apps.protocol.engine import HandlerContext, HandlerRegistry
from apps.reservations import services as reservations
from apps.rfid.services import IdTagInfo, id_tag_authorize
from apps.transactions import billing, transaction_events
from apps.transactions import services as transactions
from apps.transactions.samples import SampledValue
from apps.transactions.transaction_events import TransactionEventData

registry = HandlerRegistry()

# 1.6 status names the 2.x Authorize/TransactionEvent answers spell the same way.
_ID_TOKEN_TYPE_FOR_PARENT = "Central"


def id_token_info(info: IdTagInfo) -> dict[str, Any]:
    result: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        result["cacheExpiryDateTime"] = format_ocpp_datetime(info.expiry_date)
    if info.parent_id_tag:
        result["groupIdToken"] = {"idToken": info.parent_id_tag, "type": _ID_TOKEN_TYPE_FOR_PARENT}
    if info.language:  # the card's account's driver language
        result["language1"] = info.language
    return result


def authorize_token(context: HandlerContext, id_token: dict[str, Any]) -> IdTagInfo:
    if id_token["type"] == "NoAuthorization":
        return IdTagInfo(status="Accepted")
    return id_tag_authorize(
        id_tag=id_token["idToken"], free_charging=bool(context.extra.get("free_charging"))
    )


def samples(meter_values: list[dict[str, Any]]) -> tuple[SampledValue, ...]:
    result = []
    for meter_value in meter_values:
        timestamp = parse_ocpp_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            unit = sampled.get("unitOfMeasure") or {}
            result.append(
                SampledValue(
                    timestamp=timestamp,
                    value=str(sampled["value"]),
                    measurand=sampled.get("measurand", ""),
                    phase=sampled.get("phase", ""),
                    unit=unit.get("unit", ""),
                    multiplier=unit.get("multiplier", 0),
                    context=sampled.get("context", ""),
                    location=sampled.get("location", ""),
                )
            )
    return tuple(result)


@registry.handles("BootNotification")
def boot_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    info = payload["chargingStation"]
    modem = info.get("modem") or {}
    boot = chargers.station_boot(
        station_id=context.station_id,
        identity=chargers.StationIdentity(
            vendor=info["vendorName"],
            model=info["model"],
            serial_number=info.get("serialNumber", ""),
            firmware_version=info.get("firmwareVersion", ""),
            iccid=modem.get("iccid", ""),
            imsi=modem.get("imsi", ""),
        ),
        reason=payload["reason"],
    )
    return common.boot_answer(context, boot)


registry.handles("Heartbeat")(common.heartbeat)


@registry.handles("Authorize")
def authorize(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"idTokenInfo": id_token_info(authorize_token(context, payload["idToken"]))}


@registry.handles("StatusNotification")
def status_notification(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    chargers.connector_status_update(
        station_id=context.station_id,
        report=chargers.ConnectorStatus(
            connector_id=payload["evseId"],
            evse_connector_id=payload["connectorId"],
            status=payload["connectorStatus"],
            timestamp=parse_ocpp_datetime(payload["timestamp"]),
        ),
    )
    return {}


@registry.handles("MeterValues")
def meter_values(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    transactions.meter_values_record(
        station_id=context.station_id,
        connector_id=payload["evseId"],
        transaction_id=None,
        samples=list(samples(payload["meterValue"])),
    )
    return {}


@registry.handles("TransactionEvent")
def transaction_event(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    tx_info = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    id_token = payload.get("idToken") or {}
    cache = context.memory.get("transactions")
    if cache is None:
        cache = context.memory["transactions"] = transaction_events.OpenTransactionCache()
    tx, info = transaction_events.transaction_event_record(
        station_id=context.station_id,
        free_charging=bool(context.extra.get("free_charging")),
        open_transactions=cache,
        charger_id=context.charger_id,
        event=TransactionEventData(
            event_type=payload["eventType"],
            transaction_id=tx_info["transactionId"],
            seq_no=payload["seqNo"],
            timestamp=parse_ocpp_datetime(payload["timestamp"]),
            trigger_reason=payload["triggerReason"],
            payload=payload,
            offline=payload.get("offline", False),
            charging_state=tx_info.get("chargingState", ""),
            stopped_reason=tx_info.get("stoppedReason", ""),
            remote_start_id=tx_info.get("remoteStartId"),
            reservation_id=payload.get("reservationId"),
            evse_id=evse.get("id"),
            connector_id=evse.get("connectorId"),
            id_token=id_token.get("idToken", ""),
            id_token_type=id_token.get("type", ""),
            samples=samples(payload.get("meterValue", [])),
        ),
    )
    if payload.get("reservationId") is not None:
        reservations.reservation_use(
            station_id=context.station_id, reservation_id=payload["reservationId"], transaction=tx
        )
    answer = {"idTokenInfo": id_token_info(info)} if info is not None else {}
    answer.update(billing.transaction_event_cost(transaction=tx, event_type=payload["eventType"]))
    return answer


registry.handles("DataTransfer")(common.data_transfer)


registry.handles("FirmwareStatusNotification")(common.firmware_status_with_request)
registry.handles("LogStatusNotification")(common.log_status_notification)


@registry.handles("ReservationStatusUpdate")
def reservation_status_update(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    reservations.reservation_status_update(
        station_id=context.station_id,
        reservation_id=payload["reservationId"],
        status=payload["reservationUpdateStatus"],
    )
    return {}


registry.handles("SecurityEventNotification")(common.security_event_notification)
registry.handles("SignCertificate")(common.sign_certificate)


@registry.handles("Get15118EVCertificate")
def get_15118_ev_certificate(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    # Installing or updating an EV's contract certificate (use cases M01/M02) needs a V2G PKI
    # (a contract certificate pool or the mobility operator's backend), which this CSMS is not
    # connected to: answered Failed, with the reason, rather than a CALLERROR.
    return {
        "status": "Failed",
        "exiResponse": "",
        "statusInfo": {
            "reasonCode": "NoV2GPKI",
            "additionalInfo": "this CSMS is not connected to a V2G PKI (ISO 15118 contracts)",
        },
    }


@registry.handles("GetCertificateStatus")
def get_certificate_status(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    # An OCSP status of a V2G certificate (use case M06) needs an OCSP responder to ask; none
    # is configured.
    return {
        "status": "Failed",
        "statusInfo": {
            "reasonCode": "NoOCSPResponder",
            "additionalInfo": "this CSMS has no OCSP responder configured",
        },
    }


@registry.handles("NotifyReport")
def notify_report(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    devicemodel.device_report_part_record(
        station_id=context.station_id,
        request_id=payload["requestId"],
        generated_at=parse_ocpp_datetime(payload["generatedAt"]),
        seq_no=payload["seqNo"],
        tbc=payload.get("tbc", False),
        report_data=payload.get("reportData", []),
    )
    return {}


@registry.handles("NotifyEvent")
def notify_event(context: HandlerContext, payload: dict[str, Any]) -> dict[str, Any]:
    devicemodel.device_events_record(station_id=context.station_id, event_data=payload["eventData"])
    return {}
