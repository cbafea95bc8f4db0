"""ASGI entry point: HTTP goes to Django; the dashboard's websocket (/admin/live/) to its
consumer with the user's session, every other websocket path to the OCPP consumer.

The server process starts (registers, releases what dead processes held, beats; see
apps/core/processes.py) at the ASGI lifespan's start-up where the server has one (uvicorn),
else before its first request is served (daphne has no lifespan); it ends at the lifespan's
shutdown, or at exit.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402

from apps.core.gc_tuning import server_gc_tune  # noqa: E402
from apps.core.processes import process_end, process_start, process_started  # noqa: E402
from apps.dashboard.routing import LivePathRouter  # noqa: E402
from apps.ocpp.routing import websocket_application  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI lifespan (uvicorn): start the server process, end it at shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await sync_to_async(process_start, thread_sensitive=False)()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await sync_to_async(process_end, thread_sensitive=False)()
            await send({"type": "lifespan.shutdown.complete"})
            return


# The routes without the server process's start: what the tests' in-process servers serve
# (the test run is no server process; tests/faults start real ones).
routes = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": LivePathRouter(websocket_application),
        "lifespan": lifespan,
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if not process_started() and scope["type"] != "lifespan":
        await sync_to_async(process_start, thread_sensitive=False)()
    await routes(scope, receive, send)


server_gc_tune()
