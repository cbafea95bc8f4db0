"""Reachability checks for the services the server depends on."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

CHECK_TIMEOUT_S = 3.0


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def _check_broker() -> None:
    from kombu import Connection

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(settings.CELERY_BROKER_URL, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


async def _timed(name: str, coro: object) -> tuple[str, dict]:
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except Exception as exc:  # any failure is a finding, not a crash
        detail = str(exc) or type(exc).__name__
        return name, {"ok": False, "error": detail}
    return name, {"ok": True}


async def run_checks() -> dict[str, dict]:
    """Run every check concurrently and return {name: {"ok": bool, "error"?: str}}."""
    results = await asyncio.gather(
        _timed("database", sync_to_async(_check_database, thread_sensitive=False)()),
        _timed("channel_layer", _check_channel_layer()),
        _timed("broker", sync_to_async(_check_broker, thread_sensitive=False)()),
    )
    return dict(results)
