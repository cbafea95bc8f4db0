from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async

from apps.chargers.models import ChargingStation
from apps.commands.models import FINAL_STATUSES, ChargerCommand
from apps.commands.services import send_command


async def wait_final(command_id: int, within: float = 15.0) -> ChargerCommand:
    """Wait until the command has an outcome (bounded), and return it."""
    deadline = time.monotonic() + within
    while True:
        command = await sync_to_async(ChargerCommand.objects.get)(pk=command_id)
        if command.status in FINAL_STATUSES:
            return command
        if time.monotonic() > deadline:
            raise AssertionError(f"command {command_id} still {command.status} after {within}s")
        await asyncio.sleep(0.02)


async def command(server, charger_id: str, action: str, payload: dict, **options) -> ChargerCommand:
    """Send a command the way the admin and API do (inside the server) and await its outcome."""

    def send() -> ChargerCommand:
        station = ChargingStation.objects.get(charger_id=charger_id)
        return send_command(station=station, action=action, payload=payload, **options)

    sent = await server.run(send)
    return await wait_final(sent.pk)
