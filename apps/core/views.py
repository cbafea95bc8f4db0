from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.core.health import run_checks


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, channel layer and broker reachability; 503 when any is down.

    Anyone (a load balancer) learns ok or not per check; only a staff member signed in to
    the admin sees why a check failed: error texts name hosts and ports.
    """
    checks = await run_checks()
    healthy = all(check["ok"] for check in checks.values())
    user = await request.auser()
    if not (user.is_active and user.is_staff):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
