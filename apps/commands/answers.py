"""A station's answer to a command in words and tables, never as raw JSON or Python repr.

`answer_summary` is the one line an operator reads (history, banners, lists);
`answer_table` lays out answers that are lists (GetConfiguration's keys, GetVariables'
results, installed certificates) as a header and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.commands.models import ChargerCommand
from apps.commands.registry import operation_for_action


@dataclass(frozen=True)
class AnswerTable:
    headers: list[str]
    rows: list[list[str]]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def answer_table(command: ChargerCommand) -> AnswerTable | None:
    """Return the answer's list laid out as a table, or None for an answer that is no list."""
    response = command.response
    if not isinstance(response, dict):
        return None
    if command.action == "GetConfiguration":
        rows = [
            [
                str(item.get("key", "")),
                _text(item.get("value")),
                _text(bool(item.get("readonly", False))),
            ]
            for item in response.get("configurationKey") or []
        ]
        rows += [[str(key), _("unknown key"), "-"] for key in response.get("unknownKey") or []]
        return AnswerTable([_("Key"), _("Value"), _("Read-only")], rows)
    if command.action == "GetVariables":
        rows = [
            [
                _component(item.get("component") or {}),
                _variable(item.get("variable") or {}),
                str(item.get("attributeType", "Actual")),
                str(item.get("attributeStatus", "")),
                _text(item.get("attributeValue")),
            ]
            for item in response.get("getVariableResult") or []
        ]
        return AnswerTable(
            [_("Component"), _("Variable"), _("Attribute"), _("Status"), _("Value")], rows
        )
    if command.action == "SetVariables":
        rows = [
            [
                _component(item.get("component") or {}),
                _variable(item.get("variable") or {}),
                str(item.get("attributeType", "Actual")),
                str(item.get("attributeStatus", "")),
            ]
            for item in response.get("setVariableResult") or []
        ]
        return AnswerTable([_("Component"), _("Variable"), _("Attribute"), _("Status")], rows)
    if command.action == "GetInstalledCertificateIds":
        chains = response.get("certificateHashData") or response.get("certificateHashDataChain")
        rows = []
        for item in chains or []:
            data = item.get("certificateHashData", item)
            rows.append(
                [
                    str(item.get("certificateType", "-")),
                    str(data.get("serialNumber", "-")),
                    str(data.get("issuerNameHash", "-")),
                ]
            )
        return AnswerTable([_("Type"), _("Serial number"), _("Issuer name hash")], rows)
    return None


def _component(component: dict[str, Any]) -> str:
    name = str(component.get("name", ""))
    if component.get("instance"):
        name += f" ({component['instance']})"
    evse = component.get("evse")
    if evse:
        name += " · EVSE " + str(evse.get("id", ""))
    return name


def _variable(variable: dict[str, Any]) -> str:
    name = str(variable.get("name", ""))
    if variable.get("instance"):
        name += f" ({variable['instance']})"
    return name


def answer_summary(command: ChargerCommand) -> str:
    """Return the answer in a few words: its status, and what else it says briefly."""
    if command.error_code or command.error_description:
        return " ".join(part for part in (command.error_code, command.error_description) if part)
    response = command.response
    if response is None:
        return "-"
    if not isinstance(response, dict):
        return _text(response)
    parts = []
    if "status" in response:
        parts.append(str(response["status"]))
    table = answer_table(command)
    if table is not None:
        parts.append(
            ngettext("%(count)d row", "%(count)d rows", len(table.rows))
            % {"count": len(table.rows)}
        )
    info = response.get("statusInfo") or {}
    if info.get("reasonCode"):
        parts.append(_text(info.get("reasonCode")))
    if "data" in response and command.action == "DataTransfer":
        parts.append(_text(response["data"]))
    if "listVersion" in response:
        parts.append(_("list version %(version)s") % {"version": response["listVersion"]})
    if "fileName" in response or "filename" in response:
        parts.append(str(response.get("fileName") or response.get("filename")))
    if not parts:
        return _("answered") if not response else _text(response)
    return " · ".join(parts)


def command_label(command: ChargerCommand) -> str:
    """Return what an operator calls the command ("Remote start"), its action when unknown."""
    operation = operation_for_action(
        version=command.station.protocol_version, action=command.action
    )
    return str(operation.label) if operation is not None else command.action
