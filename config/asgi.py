"""ASGI entry point: HTTP goes to Django; the dashboard's websocket (/admin/live/) to its
consumer with the user's session, every other websocket path to the OCPP consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from apps.core.gc_tuning import server_gc_tune  # noqa: E402
from apps.dashboard.routing import LivePathRouter  # noqa: E402
from apps.ocpp.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": LivePathRouter(websocket_application),
    }
)
server_gc_tune()
