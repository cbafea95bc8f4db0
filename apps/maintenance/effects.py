"""Side effects of the station's answers to maintenance commands (imported at startup)."""

from __future__ import annotations

from typing import Any

from apps.commands.effects import on
from apps.commands.models import ChargerCommand
from apps.maintenance.services import diagnostics_answer_store, log_answer_store


@on("GetDiagnostics")
def _get_diagnostics(command: ChargerCommand, response: dict[str, Any]) -> None:
    diagnostics_answer_store(command=command, file_name=response.get("fileName"))


@on("GetLog")
def _get_log(command: ChargerCommand, response: dict[str, Any]) -> None:
    log_answer_store(command=command, status=response["status"], file_name=response.get("filename"))
