from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.core.health import run_checks


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, channel layer and broker reachability; 503 when any is down."""
    checks = await run_checks()
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
