"""Writes of the OCPP 2.x device model: reports, get/set variables results, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from apps.chargers.services import station_heartbeat_interval_configured
from apps.core.timeutil import parse_ocpp_datetime
from apps.devicemodel.models import DeviceEvent, DeviceReport, DeviceVariable, ReportPart

SET_ACCEPTED = frozenset({"Accepted", "RebootRequired"})


def _address(component: dict[str, Any], variable: dict[str, Any], attribute_type: str) -> dict:
    evse = component.get("evse") or {}
    return {
        "component": component["name"],
        "component_instance": component.get("instance", ""),
        "evse_id": evse.get("id", 0),
        "connector_id": evse.get("connectorId", 0),
        "variable": variable["name"],
        "variable_instance": variable.get("instance", ""),
        "attribute_type": attribute_type or "Actual",
    }


def device_variables_upsert(*, station_id: int, report_data: list[dict[str, Any]]) -> int:
    """Store the reportData of a NotifyReport; return how many attributes were written."""
    written = 0
    for item in report_data:
        characteristics = item.get("variableCharacteristics") or {}
        for attribute in item["variableAttribute"]:
            address = _address(item["component"], item["variable"], attribute.get("type", ""))
            DeviceVariable.objects.update_or_create(
                station_id=station_id,
                **address,
                defaults={
                    "value": attribute.get("value"),
                    "mutability": attribute.get("mutability", ""),
                    "persistent": attribute.get("persistent"),
                    "constant": attribute.get("constant"),
                    "unit": characteristics.get("unit", ""),
                    "data_type": characteristics.get("dataType", ""),
                    "min_limit": characteristics.get("minLimit"),
                    "max_limit": characteristics.get("maxLimit"),
                    "values_list": characteristics.get("valuesList", ""),
                    "supports_monitoring": characteristics.get("supportsMonitoring"),
                },
            )
            written += 1
    return written


def device_report_part_record(
    *,
    station_id: int,
    request_id: int,
    generated_at: datetime,
    seq_no: int,
    tbc: bool,
    report_data: list[dict[str, Any]],
) -> DeviceReport:
    """Keep one part of a NotifyReport and apply it; the report completes with all parts.

    A part received twice (a replay) is applied once.
    """
    with transaction.atomic():
        report, _ = DeviceReport.objects.select_for_update().get_or_create(
            station_id=station_id, request_id=request_id
        )
        _, created = ReportPart.objects.get_or_create(
            report=report,
            seq_no=seq_no,
            defaults={"tbc": tbc, "items": len(report_data), "payload": report_data},
        )
        if created:
            device_variables_upsert(station_id=station_id, report_data=report_data)
        if not tbc:
            report.last_seq_no = seq_no
        report.generated_at = report.generated_at or generated_at
        if report.last_seq_no is not None:
            seen = set(report.parts.values_list("seq_no", flat=True))
            report.complete = seen >= set(range(report.last_seq_no + 1))
        report.save()
    return report


def device_variables_from_get(*, station_id: int, results: list[dict[str, Any]]) -> None:
    """Store a GetVariables answer: values of Accepted attributes, status of every one."""
    for result in results:
        address = _address(result["component"], result["variable"], result.get("attributeType", ""))
        defaults: dict[str, Any] = {"last_status": result["attributeStatus"]}
        if result["attributeStatus"] == "Accepted":
            defaults["value"] = result.get("attributeValue")
        DeviceVariable.objects.update_or_create(station_id=station_id, **address, defaults=defaults)


def device_variables_from_set(
    *, station_id: int, requested: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    """Store a SetVariables answer: the value is kept where the station took it."""
    asked = {
        tuple(
            sorted(
                _address(item["component"], item["variable"], item.get("attributeType", "")).items()
            )
        ): item["attributeValue"]
        for item in requested
    }
    for result in results:
        address = _address(result["component"], result["variable"], result.get("attributeType", ""))
        defaults: dict[str, Any] = {"last_status": result["attributeStatus"]}
        value = asked.get(tuple(sorted(address.items())))
        if result["attributeStatus"] in SET_ACCEPTED and value is not None:
            defaults["value"] = value
            if _is_heartbeat_interval(address):
                station_heartbeat_interval_configured(station_id=station_id, value=value)
        DeviceVariable.objects.update_or_create(station_id=station_id, **address, defaults=defaults)


def _is_heartbeat_interval(address: dict[str, Any]) -> bool:
    """Tell whether an address is the station's OCPPCommCtrlr.HeartbeatInterval (Actual)."""
    return (
        address["component"].lower() == "ocppcommctrlr"
        and address["variable"].lower() == "heartbeatinterval"
        and not address["component_instance"]
        and not address["variable_instance"]
        and address["evse_id"] == 0
        and address["attribute_type"] == "Actual"
    )


def device_events_record(*, station_id: int, event_data: list[dict[str, Any]]) -> None:
    """Keep the events of a NotifyEvent; a replayed event is kept once."""
    rows = [
        DeviceEvent(
            station_id=station_id,
            event_id=event["eventId"],
            timestamp=parse_ocpp_datetime(event["timestamp"]),
            trigger=event["trigger"],
            event_notification_type=event.get("eventNotificationType", ""),
            component=event["component"]["name"],
            variable=event["variable"]["name"],
            actual_value=event.get("actualValue", ""),
            tech_code=event.get("techCode", ""),
            tech_info=event.get("techInfo", ""),
            cleared=event.get("cleared"),
            data=event,
        )
        for event in event_data
    ]
    DeviceEvent.objects.bulk_create(rows, ignore_conflicts=True)
